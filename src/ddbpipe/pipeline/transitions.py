"""How a pipeline's instances and attempts change status, inside one state transaction.

``Transitions`` holds what one change needs — the transaction, the pipeline's plan,
the time — and does every move of an instance or attempt: setting the status and the
runtime fields that go with it, queueing the ``onSuccess`` / ``onFail`` actions of an
instance that ends, and keeping components' and the pipeline's health current. The
tick (``ddbpipe.pipeline.tick``) and the attempt outcomes (``ddbpipe.pipeline.attempts``)
are written in its terms.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ddbpipe.pipeline.components import ComponentPlan, PipelinePlan
from ddbpipe.pipeline.expressions import Value
from ddbpipe.pipeline.state import ObjectRecord, StateStore
from ddbpipe.pipeline.statuses import (
    ENDED,
    FAILURES,
    HealthStatus,
    ObjectStatus,
    component_health,
    pipeline_health,
)
from ddbpipe.pipeline.timefmt import format_datetime, parse_datetime

__all__ = ["ERROR_FIELDS", "StatusChange", "Transitions", "instance_runtime"]

ERROR_FIELDS = ("errorId", "errorMessage", "errorStackTrace")
_CLEARED_ERRORS: dict[str, Any] = dict.fromkeys(ERROR_FIELDS)


@dataclass(frozen=True)
class StatusChange:
    """An object took a new status; ``message`` says why, when there is more to say."""

    object_id: str
    component_id: str | None
    sphere: str
    status: str
    message: str | None = None


def instance_runtime(plan: PipelinePlan, record: ObjectRecord) -> dict[str, Value]:
    """The runtime fields an instance's (or attempt's) expressions see."""
    assert record.scheduled_start is not None
    start = parse_datetime(record.scheduled_start)
    end = parse_datetime(record.scheduled_end) if record.scheduled_end else start
    runtime = plan.runtime(start, end)
    runtime["@id"] = record.instance_id or record.object_id
    if record.actual_start:
        runtime["@actualStartTime"] = parse_datetime(record.actual_start)
    for key in ("errorId", "errorMessage", "errorStackTrace", "@cascadeFailedOn"):
        value = record.fields.get(key)
        if isinstance(value, dict):  # a reference reads as the id it names
            value = value.get("ref")
        if isinstance(value, str):
            runtime[key] = value
    return runtime


class Transitions:
    """Status moves of one pipeline at ``now``, written through ``db``."""

    def __init__(
        self,
        state: StateStore,
        db: sqlite3.Connection,
        plan: PipelinePlan,
        now: datetime,
    ) -> None:
        self.state = state
        self.db = db
        self.plan = plan
        self.pipeline_id = plan.pipeline_id
        self.now = now
        self.stamp = format_datetime(now)
        self.changes: list[StatusChange] = []
        self.ended_components: set[str] = set()

    # --- reading ----------------------------------------------------------------

    def instance(self, object_id: str) -> ObjectRecord | None:
        """The object ``object_id`` as it is now."""
        return self.state.object(self.pipeline_id, object_id, db=self.db)

    def instance_of(self, component_id: str, scheduled_start: str) -> ObjectRecord | None:
        """The instance of ``component_id`` that one scheduled at ``scheduled_start``
        goes with: the same start, else the latest that started before it."""
        row = self.db.execute(
            "SELECT * FROM objects WHERE pipeline_id = ? AND component_id = ? AND "
            "sphere = 'INSTANCE' AND scheduled_start <= ? "
            "ORDER BY scheduled_start DESC LIMIT 1",
            (self.pipeline_id, component_id, scheduled_start),
        ).fetchone()
        if row is None:
            return None
        return self.state.object(self.pipeline_id, row["object_id"], db=self.db)

    def running_attempt(self, instance: ObjectRecord) -> ObjectRecord | None:
        """The attempt of ``instance`` that is running, if any."""
        attempts = self.state.objects(
            self.pipeline_id,
            sphere="ATTEMPT",
            statuses=[ObjectStatus.RUNNING],
            db=self.db,
        )
        for attempt in attempts:
            if attempt.instance_id == instance.object_id:
                return attempt
        return None

    def component(self, record: ObjectRecord) -> ComponentPlan | None:
        """The plan of the component ``record`` is an instance of."""
        return self.plan.components.get(record.component_id or "")

    # --- writing ----------------------------------------------------------------

    def update(self, record: ObjectRecord, **columns: Any) -> None:
        """Write ``columns`` of ``record`` (fields and internal are merged)."""
        self.state.update_object(self.pipeline_id, record.object_id, self.db, **columns)
        for key, value in columns.items():
            if key in ("fields", "internal"):
                merged = dict(getattr(record, key))
                for name, item in value.items():
                    if item is None:
                        merged.pop(name, None)
                    else:
                        merged[name] = item
                setattr(record, key, merged)
            else:
                setattr(record, key, value)

    def move(
        self,
        record: ObjectRecord,
        status: ObjectStatus,
        *,
        message: str | None = None,
        **columns: Any,
    ) -> None:
        """Give ``record`` the status ``status`` with ``columns``; an instance that ends
        gets its end time and queues its actions, and its component's health is
        refreshed."""
        if status in ENDED and record.actual_end is None and "actual_end" not in columns:
            columns["actual_end"] = self.stamp
        if status == ObjectStatus.RUNNING and record.actual_start is None:
            columns.setdefault("actual_start", self.stamp)
        self.update(record, status=str(status), **columns)
        self.changes.append(
            StatusChange(record.object_id, record.component_id, record.sphere, status, message)
        )
        if record.sphere == "INSTANCE" and status in ENDED:
            self.ended_components.add(record.component_id or "")
            self.queue_actions(record, status)

    def fail(
        self,
        record: ObjectRecord,
        status: ObjectStatus,
        message: str,
        *,
        error_id: str | None = None,
        stack_trace: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """End ``record`` as a failure, with its error fields (and ``extra`` ones)."""
        fields: dict[str, Any] = {
            "errorId": error_id or status.value,
            "errorMessage": message,
            "errorStackTrace": stack_trace,
            **(extra or {}),
        }
        self.move(record, status, message=message, fields=fields)

    def clear_errors(self) -> dict[str, Any]:
        """Fields that remove an earlier error."""
        return dict(_CLEARED_ERRORS)

    def queue_actions(self, record: ObjectRecord, status: ObjectStatus) -> None:
        """Record the actions an instance that ended with ``status`` sets off."""
        plan = self.component(record)
        if plan is None:
            return
        if status in (ObjectStatus.FINISHED, ObjectStatus.MARK_FINISHED):
            actions, event = plan.on_success, "onSuccess"
        elif status in FAILURES and status != ObjectStatus.CASCADE_FAILED:
            actions, event = plan.on_fail, "onFail"
        else:
            return
        self.add_actions(record, actions, event)

    def add_actions(self, record: ObjectRecord, actions: Iterable[str], event: str) -> None:
        """Record ``actions`` to carry out for ``record``."""
        for action in actions:
            self.state.add_action(
                self.pipeline_id, action, record.object_id, event, self.stamp, self.db
            )

    # --- health -----------------------------------------------------------------

    def refresh_health(self, *, force: bool = False) -> None:
        """Recompute the health of components whose instances ended, then the
        pipeline's."""
        if not self.ended_components and not force:
            return
        healths: list[HealthStatus | None] = []
        for component_id in self.plan.components:
            row = self.db.execute(
                "SELECT object_id, status FROM objects WHERE pipeline_id = ? AND "
                "component_id = ? AND sphere = 'INSTANCE' AND status IN "
                f"({', '.join('?' for _ in ENDED)}) "
                "ORDER BY actual_end DESC, scheduled_start DESC LIMIT 1",
                (self.pipeline_id, component_id, *sorted(ENDED)),
            ).fetchone()
            health = component_health(row["status"] if row else None)
            healths.append(health)
            if component_id in self.ended_components and row is not None:
                self.db.execute(
                    "UPDATE objects SET fields = json_patch(fields, ?) "
                    "WHERE pipeline_id = ? AND object_id = ?",
                    (
                        _json(
                            {
                                "@healthStatus": health.value if health else None,
                                "@healthStatusFromInstanceId": row["object_id"],
                                "@healthStatusUpdatedTime": self.stamp,
                            }
                        ),
                        self.pipeline_id,
                        component_id,
                    ),
                )
        overall = pipeline_health(healths)
        current = self.state.pipeline(self.pipeline_id, db=self.db)
        if current is not None and (current.health != overall.value or self.ended_components):
            latest = self.db.execute(
                "SELECT object_id FROM objects WHERE pipeline_id = ? AND sphere = 'INSTANCE' "
                "AND actual_end IS NOT NULL ORDER BY actual_end DESC LIMIT 1",
                (self.pipeline_id,),
            ).fetchone()
            self.state.update_pipeline(
                self.pipeline_id,
                self.db,
                health=overall.value,
                health_from=latest["object_id"] if latest else None,
                health_updated=self.stamp,
            )
        self.ended_components.clear()


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()
