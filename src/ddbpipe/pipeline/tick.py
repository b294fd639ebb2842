"""One tick of a pipeline: plan the instances that are due, move every instance that
can move, and say what the runner should do now.

A tick, in one state transaction:

1. creates the instances each scheduled component has due (backfill included, in
   order);
2. ends instances told to stop (SetStatus ``TRY_CANCEL``, a ``Terminate`` action);
3. moves an instance waiting on dependencies once every dependency finished and its
   preconditions were met: a data node is then finished, an activity waits for a
   runner; with ``failureAndRerunMode: cascade``, an instance whose dependency failed
   is ``CASCADE_FAILED`` (``@cascadeFailedOn`` names the first failure), otherwise it
   keeps waiting;
4. picks the activities that may start an attempt: ``retryDelay`` passed, fewer than
   ``maxActiveInstances`` of the component running, pipeline active, component not
   paused;
5. asks to cancel running attempts past their ``attemptTimeout``, on a resource past
   its ``terminateAfter`` (the resource is then ``TIMEDOUT``), or of a deactivated
   pipeline;
6. ends a resource once every activity on it ended; fires ``onLateAction`` once an
   instance is not finished ``lateAfterTimeout`` after its scheduled start;
7. updates health and the pipeline's state (``FINISHED`` once nothing more will run,
   ``INACTIVE`` once a deactivation has no attempt left).

``Tick.settled`` tells a runner that runs only what is due now that nothing more can
happen without it: no attempt is running or waiting to start, and every instance still
waiting waits on a failure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from ddbpipe.pipeline.components import ComponentPlan
from ddbpipe.pipeline.ids import instance_id
from ddbpipe.pipeline.schedules import due_count, next_run_time
from ddbpipe.pipeline.state import ObjectRecord, PipelineRecord
from ddbpipe.pipeline.statuses import ENDED, FAILURES, ObjectStatus, PipelineState
from ddbpipe.pipeline.timefmt import format_datetime, parse_datetime
from ddbpipe.pipeline.transitions import StatusChange, Transitions

__all__ = ["CancelRequest", "PreconditionCheck", "ReadyInstance", "Tick", "advance", "new_instance"]

_DONE = (ObjectStatus.FINISHED, ObjectStatus.MARK_FINISHED)
_ACTIVE = (
    ObjectStatus.WAITING_ON_DEPENDENCIES,
    ObjectStatus.WAITING_FOR_RUNNER,
    ObjectStatus.RUNNING,
)


@dataclass(frozen=True)
class ReadyInstance:
    """An activity instance that may start its next attempt now."""

    instance_id: str
    component_id: str


@dataclass(frozen=True)
class PreconditionCheck:
    """A precondition of ``instance_id`` (of ``component_id``) to check now."""

    instance_id: str
    component_id: str
    precondition_id: str


@dataclass(frozen=True)
class CancelRequest:
    """Stop the running attempt ``attempt_id``: ``attemptTimeout``, ``terminateAfter``,
    ``TRY_CANCEL``, ``deactivate`` or ``Terminate``."""

    attempt_id: str
    instance_id: str
    reason: str


@dataclass
class Tick:
    """What a tick found: work to start, checks to make, attempts to cancel, status
    changes, when the next thing is due, and whether anything can still happen."""

    pipeline_id: str
    state: str
    ready: list[ReadyInstance] = field(default_factory=list)
    checks: list[PreconditionCheck] = field(default_factory=list)
    cancels: list[CancelRequest] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    next_time: datetime | None = None
    next_run: datetime | None = None
    settled: bool = True


def new_instance(
    record: PipelineRecord,
    component: ComponentPlan,
    start: datetime,
    end: datetime,
    index: int | None,
) -> ObjectRecord:
    """A new instance of ``component`` for the interval ``start`` to ``end``."""
    object_id = instance_id(component.id, start)
    return ObjectRecord(
        pipeline_id=record.pipeline_id,
        object_id=object_id,
        name=object_id,
        sphere="INSTANCE",
        status=ObjectStatus.WAITING_ON_DEPENDENCIES.value,
        component_id=component.id,
        scheduled_start=format_datetime(start),
        scheduled_end=format_datetime(end),
        plan_index=index,
        version=record.version,
        fields={"@componentParent": {"ref": component.id}, "@version": str(record.version)},
    )


def advance(t: Transitions, record: PipelineRecord, *, plan_until: datetime | None = None) -> Tick:
    """Run one tick of the pipeline ``record`` through ``t`` (see the module doc);
    instances are planned up to ``plan_until`` (``t.now`` when None)."""
    return _Advance(t, record, plan_until or t.now).run()


class _Advance:
    def __init__(self, t: Transitions, record: PipelineRecord, plan_until: datetime) -> None:
        self.t = t
        self.record = record
        self.plan = t.plan
        self.now = t.now
        self.plan_until = min(plan_until, t.now)
        self.tick = Tick(record.pipeline_id, record.state)
        self.next_times: list[datetime] = []
        self.blocked: set[str] = set()
        self.waiting_on: dict[str, list[str]] = {}
        self.paused: set[str] = set()

    def run(self) -> Tick:
        scheduled = self.record.state == PipelineState.SCHEDULED
        if self.record.state not in (PipelineState.SCHEDULED, PipelineState.DEACTIVATING):
            return self.tick
        self.paused = self.paused_components()
        if scheduled:
            self.plan_instances()
        active = self.t.state.objects(
            self.record.pipeline_id, sphere="INSTANCE", statuses=_ACTIVE, db=self.t.db
        )
        active.sort(
            key=lambda item: (item.scheduled_start or "", self.plan.rank(item.component_id or ""))
        )
        self.running = Counter(
            item.component_id for item in active if item.status == ObjectStatus.RUNNING
        )
        for instance in active:
            self.step(instance)
        self.finish_state()
        self.t.refresh_health()
        self.tick.changes = self.t.changes
        self.tick.next_time = min(self.next_times, default=None)
        self.tick.settled = not any(self.live(item) for item in active)
        return self.tick

    # --- planning ---------------------------------------------------------------

    def paused_components(self) -> set[str]:
        rows = self.t.db.execute(
            "SELECT object_id FROM objects WHERE pipeline_id = ? AND sphere = 'COMPONENT' "
            "AND status = ?",
            (self.record.pipeline_id, ObjectStatus.PAUSED.value),
        )
        return {row["object_id"] for row in rows}

    def plan_instances(self) -> None:
        upcoming: list[datetime] = []
        for component in self.plan.components.values():
            spec = component.schedule
            if spec.kind == "ondemand" or component.id in self.paused:
                continue
            row = self.t.instance(component.id)
            if row is None:
                continue
            planned = row.plan_index or 0
            due = due_count(spec, self.plan_until)
            created = []
            for index in range(planned, due):
                start, end = spec.interval(index)
                created.append(new_instance(self.record, component, start, end, index))
            if created:
                self.t.state.put_objects(created, self.t.db)
                self.t.update(
                    row,
                    plan_index=due,
                    fields={"@latestRunTime": format_datetime(spec.run_time(due - 1))},
                )
            upcoming_run = next_run_time(spec, self.plan_until)
            if upcoming_run is not None:
                upcoming.append(upcoming_run)
            nxt = format_datetime(upcoming_run) if upcoming_run else None
            if row.fields.get("@nextRunTime") != nxt:
                self.t.update(row, fields={"@nextRunTime": nxt})
        self.tick.next_run = min(upcoming, default=None)

    # --- instances --------------------------------------------------------------

    def step(self, instance: ObjectRecord) -> None:
        component = self.t.component(instance)
        if component is None:
            return
        if component.kind == "resource":
            self.resource(instance, component)
            return
        if instance.status == ObjectStatus.WAITING_ON_DEPENDENCIES:
            self.waiting(instance, component)
        if instance.status == ObjectStatus.WAITING_FOR_RUNNER:
            self.queued(instance, component)
        if instance.status == ObjectStatus.RUNNING:
            self.in_progress(instance, component)
        self.late(instance, component)

    def cancel_if_asked(self, instance: ObjectRecord) -> bool:
        reason = instance.cancel_requested
        if not reason:
            return False
        self.t.fail(instance, ObjectStatus.CANCELED, f"canceled: {reason}", error_id="Canceled")
        return True

    def resource_failure(self, instance: ObjectRecord, component: ComponentPlan) -> bool:
        if component.runs_on is None or instance.scheduled_start is None:
            return False
        resource = self.t.instance_of(component.runs_on, instance.scheduled_start)
        if resource is None or resource.status not in FAILURES:
            return False
        self.t.fail(
            instance,
            ObjectStatus.CANCELED,
            f"canceled: its resource {resource.object_id} is {resource.status}",
            error_id="ResourceFailed",
        )
        return True

    def waiting(self, instance: ObjectRecord, component: ComponentPlan) -> None:
        if self.cancel_if_asked(instance) or self.resource_failure(instance, component):
            return
        assert instance.scheduled_start is not None
        dependencies = [
            (name, self.t.instance_of(name, instance.scheduled_start))
            for name in component.depends_on
        ]
        failed = [dep for _, dep in dependencies if dep is not None and dep.status in FAILURES]
        if failed:
            if component.cascade:
                self.cascade(instance, failed[0])
            else:
                self.blocked.add(instance.object_id)
            return
        unmet = [
            dep.object_id if dep is not None else name
            for name, dep in dependencies
            if dep is None or dep.status not in _DONE
        ]
        if unmet:
            self.waiting_on[instance.object_id] = unmet
            self.set_waiting_on(instance, unmet)
            return
        if component.preconditions and not self.preconditions_met(instance, component):
            return
        self.set_waiting_on(instance, [])
        if component.kind == "data_node":
            self.t.move(instance, ObjectStatus.FINISHED, actual_start=self.t.stamp)
        else:
            self.t.move(instance, ObjectStatus.WAITING_FOR_RUNNER)

    def set_waiting_on(self, instance: ObjectRecord, ids: list[str]) -> None:
        value = [{"ref": key} for key in ids] or None
        if instance.fields.get("@waitingOn") != value:
            self.t.update(instance, fields={"@waitingOn": value})

    def cascade(self, instance: ObjectRecord, failed: ObjectRecord) -> None:
        origin = failed.fields.get("@cascadeFailedOn")
        root = origin["ref"] if isinstance(origin, dict) else failed.object_id
        self.t.fail(
            instance,
            ObjectStatus.CASCADE_FAILED,
            f"a dependency failed: {root}",
            error_id="CascadeFailed",
            extra={"@cascadeFailedOn": {"ref": root}, "@waitingOn": None},
        )

    def preconditions_met(self, instance: ObjectRecord, component: ComponentPlan) -> bool:
        checks = dict(instance.internal.get("preconditions", {}))
        since_text = instance.internal.get("waiting_since")
        if since_text is None:
            since_text = self.t.stamp
            self.t.update(instance, internal={"waiting_since": since_text})
        since = parse_datetime(since_text)
        unmet = [key for key in component.preconditions if not checks.get(key, {}).get("met")]
        for key in unmet:
            precondition = self.plan.preconditions.get(key)
            if precondition is None:
                continue
            if precondition.timeout is not None:
                deadline = precondition.timeout.add_to(since)
                if self.now >= deadline:
                    self.t.fail(
                        instance,
                        ObjectStatus.FAILED,
                        f"precondition {key} was not met within its preconditionTimeout "
                        f"({precondition.timeout})",
                        error_id="PreconditionFailed",
                    )
                    return False
                self.next_times.append(deadline)
            next_check = checks.get(key, {}).get("next")
            if next_check is None or parse_datetime(next_check) <= self.now:
                self.tick.checks.append(PreconditionCheck(instance.object_id, component.id, key))
            else:
                self.next_times.append(parse_datetime(next_check))
        if unmet:
            self.set_waiting_on(instance, unmet)
        return not unmet

    def queued(self, instance: ObjectRecord, component: ComponentPlan) -> None:
        if self.cancel_if_asked(instance) or self.resource_failure(instance, component):
            return
        if self.record.state != PipelineState.SCHEDULED or component.id in self.paused:
            return
        if instance.not_before is not None:
            not_before = parse_datetime(instance.not_before)
            if not_before > self.now:
                self.next_times.append(not_before)
                return
        if self.running[component.id] >= component.max_active:
            return
        self.running[component.id] += 1
        self.tick.ready.append(ReadyInstance(instance.object_id, component.id))

    def in_progress(self, instance: ObjectRecord, component: ComponentPlan) -> None:
        attempt = self.t.running_attempt(instance)
        if attempt is None:
            return
        reason = instance.cancel_requested
        if (
            reason is None
            and self.record.state == PipelineState.DEACTIVATING
            and self.record.fields.get("cancelActive", "true") == "true"
        ):
            reason = "deactivate"
        if reason is None and component.attempt_timeout is not None and attempt.actual_start:
            deadline = component.attempt_timeout.add_to(parse_datetime(attempt.actual_start))
            if self.now >= deadline:
                reason = "attemptTimeout"
            else:
                self.next_times.append(deadline)
        if reason is not None:
            self.tick.cancels.append(CancelRequest(attempt.object_id, instance.object_id, reason))

    def late(self, instance: ObjectRecord, component: ComponentPlan) -> None:
        if (
            component.late_after is None
            or component.schedule.kind == "ondemand"
            or instance.status in ENDED
            or instance.internal.get("late")
            or instance.scheduled_start is None
        ):
            return
        deadline = component.late_after.add_to(parse_datetime(instance.scheduled_start))
        if self.now < deadline:
            self.next_times.append(deadline)
            return
        self.t.update(instance, internal={"late": self.t.stamp})
        self.t.add_actions(instance, component.on_late, "onLateAction")

    def resource(self, instance: ObjectRecord, component: ComponentPlan) -> None:
        users = [
            self.t.instance(instance_id(user, parse_datetime(instance.scheduled_start or "")))
            for user in self.plan.users(component.id)
        ]
        if instance.status == ObjectStatus.RUNNING and component.terminate_after is not None:
            deadline = component.terminate_after.add_to(
                parse_datetime(instance.actual_start or self.t.stamp)
            )
            if self.now >= deadline:
                self.time_out(instance, component, [u for u in users if u is not None])
                return
            self.next_times.append(deadline)
        if all(user is not None and user.status in ENDED for user in users):
            self.t.move(instance, ObjectStatus.FINISHED)

    def time_out(
        self, instance: ObjectRecord, component: ComponentPlan, users: list[ObjectRecord]
    ) -> None:
        message = f"the resource reached its terminateAfter ({component.terminate_after})"
        self.t.fail(instance, ObjectStatus.TIMEDOUT, message, error_id="TerminateAfter")
        for user in users:
            if user.status == ObjectStatus.RUNNING:
                attempt = self.t.running_attempt(user)
                if attempt is not None:
                    self.tick.cancels.append(
                        CancelRequest(attempt.object_id, user.object_id, "terminateAfter")
                    )

    # --- the pipeline -----------------------------------------------------------

    def finish_state(self) -> None:
        pipeline_id = self.record.pipeline_id
        db = self.t.db
        if self.record.state == PipelineState.DEACTIVATING:
            running = db.execute(
                "SELECT COUNT(*) FROM objects WHERE pipeline_id = ? AND sphere = 'ATTEMPT' "
                "AND status = ?",
                (pipeline_id, ObjectStatus.RUNNING.value),
            ).fetchone()[0]
            if not running:
                self.t.state.update_pipeline(
                    pipeline_id,
                    db,
                    state=PipelineState.INACTIVE.value,
                    last_deactivated=self.t.stamp,
                )
                db.execute(
                    "UPDATE objects SET status = ? WHERE pipeline_id = ? AND sphere = 'COMPONENT'",
                    (ObjectStatus.INACTIVE.value, pipeline_id),
                )
                self.tick.state = PipelineState.INACTIVE
            return
        if self.tick.next_run is not None or self.paused:
            return
        unfinished = db.execute(
            "SELECT COUNT(*) FROM objects WHERE pipeline_id = ? AND sphere = 'INSTANCE' "
            f"AND status NOT IN ({', '.join('?' for _ in ENDED)})",
            (pipeline_id, *sorted(ENDED)),
        ).fetchone()[0]
        if unfinished == 0:
            self.t.state.update_pipeline(pipeline_id, db, state=PipelineState.FINISHED.value)
            self.tick.state = PipelineState.FINISHED

    def live(self, instance: ObjectRecord) -> bool:
        """Whether ``instance`` (as it was at the start of the tick) can still move."""
        current = self.t.instance(instance.object_id)
        if current is None or current.status in ENDED:
            return False
        component = self.t.component(current)
        if component is None or component.kind == "resource":
            return False
        if current.status != ObjectStatus.WAITING_ON_DEPENDENCIES:
            return True
        return not self.is_blocked(current.object_id, set())

    def is_blocked(self, object_id: str, seen: set[str]) -> bool:
        if object_id in self.blocked:
            return True
        if object_id in seen:
            return False
        seen.add(object_id)
        return any(self.is_blocked(dep, seen) for dep in self.waiting_on.get(object_id, ()))
