"""The pipeline engine: the Data Pipeline API's operations over the state, and the
ticks that move pipelines along.

One engine serves every front end: ``ddbpipe pipeline run`` (through the runner) and a
Data Pipeline server, which answers CreatePipeline, PutPipelineDefinition,
ActivatePipeline, DeactivatePipeline, DeletePipeline, DescribePipelines, QueryObjects,
DescribeObjects, SetStatus and the tag operations with these methods and runs the same
runner. Every method is one short state transaction; several engines (in several
processes) may share one state database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from ddbpipe.errors import ConfigError, PipelineInvalidError, PipelineNotFoundError
from ddbpipe.pipeline.attempts import (
    INTERRUPTED,
    AttemptOutcome,
    AttemptTicket,
    finish_attempt,
    record_precondition,
    recover_attempts,
    start_attempt,
)
from ddbpipe.pipeline.clock import Clock, SystemClock
from ddbpipe.pipeline.components import PipelinePlan, build_plan
from ddbpipe.pipeline.definition import (
    ParameterValue,
    PipelineDefinition,
    definition_from_api,
    definition_to_api,
)
from ddbpipe.pipeline.describe import object_to_api, pipeline_to_api
from ddbpipe.pipeline.evaluation import FieldEvaluator
from ddbpipe.pipeline.expressions import ExpressionError
from ddbpipe.pipeline.ids import new_pipeline_id
from ddbpipe.pipeline.objects import ObjectGraph
from ddbpipe.pipeline.parameters import resolve_parameters
from ddbpipe.pipeline.queries import QUERY_FIELDS, Selector, selector_matches
from ddbpipe.pipeline.schedules import due_count, whole_seconds
from ddbpipe.pipeline.state import ObjectRecord, PipelineRecord, StateStore
from ddbpipe.pipeline.statuses import ENDED, ObjectStatus, PipelineState
from ddbpipe.pipeline.tasks import (
    decode_task_id,
    expire_tasks,
    remote_outcome,
    start_task,
    task_deadline,
    touch_task,
)
from ddbpipe.pipeline.tick import Tick, advance, new_instance
from ddbpipe.pipeline.timefmt import format_datetime, parse_datetime
from ddbpipe.pipeline.transitions import StatusChange, Transitions, instance_runtime
from ddbpipe.pipeline.validation import ValidationResult, validate_definition

__all__ = ["MAX_BACKFILL", "MAX_TAGS", "ObjectStatusCommand", "PipelineEngine"]

MAX_TAGS = 10
MAX_BACKFILL = timedelta(days=1)
"""A first activation may not backfill a schedule that starts longer ago than this."""

ObjectStatusCommand = Literal["PAUSE", "RESUME", "TRY_CANCEL", "RERUN", "MARK_FINISHED"]
_COMPONENT_COMMANDS = frozenset({"PAUSE", "RESUME"})
_INSTANCE_COMMANDS = frozenset({"TRY_CANCEL", "RERUN", "MARK_FINISHED"})
_LEASE_TTL = 60.0


class PipelineEngine:
    """Pipelines and their objects in ``state``, at the time ``clock`` gives.

    Raises ``PipelineNotFoundError`` (``deleted`` set for a deleted pipeline) for an
    unknown id, ``ConfigError`` for a request the API refuses, and
    ``PipelineInvalidError`` for a definition that cannot be saved or activated.
    """

    def __init__(self, state: StateStore, *, clock: Clock | None = None) -> None:
        self.state = state
        self.clock = clock or SystemClock()
        self._plans: dict[tuple[str, int], PipelinePlan] = {}
        self._lock = threading.Lock()

    def _now(self, now: datetime | None) -> datetime:
        return whole_seconds(now or self.clock.now())

    def _require(
        self, pipeline_id: str, db: Any = None, *, definitions: bool = True
    ) -> PipelineRecord:
        record = self.state.pipeline(pipeline_id, deleted=True, db=db, definitions=definitions)
        if record is None:
            raise PipelineNotFoundError(pipeline_id)
        if record.deleted:
            raise PipelineNotFoundError(pipeline_id, deleted=True)
        return record

    # --- pipelines ------------------------------------------------------------------

    def create_pipeline(
        self,
        name: str,
        unique_id: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        creator: str = "",
        now: datetime | None = None,
    ) -> str:
        """CreatePipeline: the id of the new pipeline, or of the one already created with
        this ``name`` and ``unique_id`` (by ``creator``)."""
        if not name or not unique_id:
            raise ConfigError("a pipeline needs a name and a unique id")
        tag_list = _tag_list(tags or {})
        with self.state.transaction() as db:
            existing = self.state.find_pipeline(name, unique_id, creator, db=db)
            if existing is not None:
                return existing.pipeline_id
            pipeline_id = new_pipeline_id()
            while self.state.pipeline(pipeline_id, deleted=True, db=db) is not None:
                pipeline_id = new_pipeline_id()
            self.state.insert_pipeline(
                PipelineRecord(
                    pipeline_id=pipeline_id,
                    name=name,
                    unique_id=unique_id,
                    creator=creator,
                    description=description,
                    tags=tag_list,
                    state=PipelineState.PENDING.value,
                    created=format_datetime(self._now(now)),
                ),
                db,
            )
        return pipeline_id

    def delete_pipeline(self, pipeline_id: str) -> None:
        """DeletePipeline: the definition and run history go; the id stays known as
        deleted."""
        with self.state.transaction() as db:
            self._require(pipeline_id, db)
            self.state.delete_objects(pipeline_id, db)
            self.state.update_pipeline(
                pipeline_id,
                db,
                deleted=True,
                latest_definition=None,
                active_definition=None,
                state=PipelineState.INACTIVE.value,
            )

    def pipeline(self, pipeline_id: str) -> PipelineRecord:
        """The state row of a pipeline."""
        return self._require(pipeline_id)

    def list_pipelines(self) -> list[PipelineRecord]:
        """ListPipelines: every pipeline not deleted, oldest first."""
        return self.state.pipelines()

    def describe_pipeline(
        self, pipeline_id: str, *, account_id: str | None = None
    ) -> dict[str, Any]:
        """DescribePipelines, for one id: the ``PipelineDescription`` (``@accountId``
        is ``account_id`` when given)."""
        record = self.state.pipeline(pipeline_id, deleted=True, definitions=False)
        if record is None or record.deleted:
            raise PipelineNotFoundError(pipeline_id, deleted=record is not None)
        return pipeline_to_api(
            record, next_run=self.next_run_time(pipeline_id), account_id=account_id
        )

    def next_run_time(self, pipeline_id: str) -> str | None:
        """The earliest ``@nextRunTime`` of the pipeline's components."""
        return self.state.next_run_time(pipeline_id)

    def add_tags(self, pipeline_id: str, tags: Mapping[str, str]) -> None:
        """AddTags: an existing key takes the new value."""
        with self.state.transaction() as db:
            record = self._require(pipeline_id, db)
            merged = {tag["key"]: tag["value"] for tag in record.tags}
            merged.update(tags)
            self.state.update_pipeline(pipeline_id, db, tags=_tag_list(merged))

    def remove_tags(self, pipeline_id: str, keys: Iterable[str]) -> None:
        """RemoveTags."""
        drop = set(keys)
        with self.state.transaction() as db:
            record = self._require(pipeline_id, db)
            kept = [tag for tag in record.tags if tag["key"] not in drop]
            self.state.update_pipeline(pipeline_id, db, tags=kept)

    # --- definitions ----------------------------------------------------------------

    def validate(
        self, pipeline_id: str, definition: PipelineDefinition, *, now: datetime | None = None
    ) -> ValidationResult:
        """ValidatePipelineDefinition."""
        self._require(pipeline_id)
        return validate_definition(definition, now=self._now(now))

    def put_definition(
        self, pipeline_id: str, definition: PipelineDefinition, *, now: datetime | None = None
    ) -> ValidationResult:
        """PutPipelineDefinition: saved unless validation finds fatal problems (then
        ``PipelineInvalidError`` and nothing is saved); a definition with errors is
        saved but cannot be activated."""
        result = validate_definition(definition, now=self._now(now))
        if result.refused:
            raise PipelineInvalidError(result.fatal, result.warnings)
        if not self.state.set_latest_definition(pipeline_id, definition_to_api(definition)):
            self._require(pipeline_id, definitions=False)  # says why
        return result

    def get_definition(
        self, pipeline_id: str, version: Literal["latest", "active"] = "latest"
    ) -> PipelineDefinition | None:
        """GetPipelineDefinition: the latest or the active definition, or None."""
        record = self._require(pipeline_id)
        document = record.active_definition if version == "active" else record.latest_definition
        return definition_from_api(document) if document else None

    # --- activation -----------------------------------------------------------------

    def activate(
        self,
        pipeline_id: str,
        *,
        parameter_values: Sequence[ParameterValue] | None = None,
        start_timestamp: datetime | None = None,
        now: datetime | None = None,
        authorize: Callable[[PipelinePlan, PipelineRecord], None] | None = None,
    ) -> None:
        """ActivatePipeline: validate the latest definition (with ``parameter_values``
        in place of its own, when given) and run it; an on-demand pipeline gets one run
        per activation. Instances due before ``start_timestamp`` are not created.
        Raises ``PipelineInvalidError`` when the definition has errors, or when a first
        activation would backfill more than a day. ``authorize`` sees the plan that is
        about to be activated, in the same transaction, and raises to refuse it."""
        moment = self._now(now)
        stamp = format_datetime(moment)
        with self.state.transaction() as db:
            record = self._require(pipeline_id, db)
            if not record.latest_definition:
                raise ConfigError(f"pipeline {pipeline_id} has no definition to activate")
            definition = definition_from_api(record.latest_definition)
            if parameter_values is not None:
                definition = replace(definition, parameter_values=tuple(parameter_values))
            result = validate_definition(definition, now=moment)
            if result.errored:
                raise PipelineInvalidError({**result.fatal, **result.errors}, result.warnings)
            first = parse_datetime(record.first_activated) if record.first_activated else moment
            plan = build_plan(definition, pipeline_id, first)
            if record.first_activated is None and start_timestamp is None:
                _refuse_long_backfill(plan, moment)
            if authorize is not None:
                authorize(plan, record)
            version = record.version + 1
            self.state.update_pipeline(
                pipeline_id,
                db,
                state=PipelineState.SCHEDULED.value,
                version=version,
                active_definition=definition_to_api(definition),
                first_activated=record.first_activated or stamp,
                last_activated=stamp,
                fields={k: v for k, v in record.fields.items() if k != "cancelActive"},
            )
            record = self._require(pipeline_id, db)
            self._put_components(record, plan, db, start_timestamp)
            if plan.ondemand:
                self._start_ondemand_run(record, plan, moment, db)

    def _put_components(
        self,
        record: PipelineRecord,
        plan: PipelinePlan,
        db: Any,
        start_timestamp: datetime | None,
    ) -> None:
        existing = {
            item.object_id: item
            for item in self.state.objects(record.pipeline_id, sphere="COMPONENT", db=db)
        }
        created = []
        for item in plan.definition.objects:
            parent = next((f.value for f in item.fields if f.key == "parent"), None)
            current = existing.get(item.id)
            skip = 0
            component = plan.components.get(item.id)
            if (
                start_timestamp is not None
                and component is not None
                and component.schedule.kind != "ondemand"
            ):
                skip = due_count(component.schedule, whole_seconds(start_timestamp) - _SECOND)
            if current is None:
                created.append(
                    ObjectRecord(
                        pipeline_id=record.pipeline_id,
                        object_id=item.id,
                        name=item.name,
                        sphere="COMPONENT",
                        status=ObjectStatus.SCHEDULED.value,
                        parent_id=parent,
                        plan_index=skip,
                        version=record.version,
                    )
                )
                continue
            status = current.status
            if status != ObjectStatus.PAUSED:
                status = ObjectStatus.SCHEDULED.value
            self.state.update_object(
                record.pipeline_id,
                item.id,
                db,
                name=item.name,
                status=status,
                parent_id=parent,
                version=record.version,
                plan_index=max(current.plan_index or 0, skip),
            )
        self.state.put_objects(created, db)

    def _start_ondemand_run(
        self, record: PipelineRecord, plan: PipelinePlan, moment: datetime, db: Any
    ) -> None:
        """One instance of every component at ``moment`` (a second later for each run
        already there at that second)."""
        start = moment

        def run_at(when: datetime) -> list[ObjectRecord]:
            return [new_instance(record, c, when, when, None) for c in plan.components.values()]

        while any(
            self.state.object(record.pipeline_id, item.object_id, db=db) for item in run_at(start)
        ):
            start += _SECOND
        self.state.put_objects(run_at(start), db)

    def deactivate(
        self, pipeline_id: str, *, cancel_active: bool = True, now: datetime | None = None
    ) -> None:
        """DeactivatePipeline: no new attempt starts; running ones are canceled (unless
        ``cancel_active`` is False, when they are waited for). The pipeline is
        ``DEACTIVATING`` until none runs, then ``INACTIVE``."""
        with self.state.transaction() as db:
            record = self._require(pipeline_id, db)
            if record.state not in (PipelineState.SCHEDULED, PipelineState.DEACTIVATING):
                return
            fields = {**record.fields, "cancelActive": "true" if cancel_active else "false"}
            self.state.update_pipeline(
                pipeline_id, db, state=PipelineState.DEACTIVATING.value, fields=fields
            )
        if not self.state.runner_alive(pipeline_id, ttl=_LEASE_TTL):
            # No runner runs it: what is marked running runs nowhere; it is canceled.
            plan = self.plan(pipeline_id)
            with self.state.transaction() as db:
                t = Transitions(self.state, db, plan, self._now(now))
                for attempt in self.state.objects(
                    pipeline_id, sphere="ATTEMPT", statuses=[ObjectStatus.RUNNING], db=db
                ):
                    finish_attempt(
                        t, attempt.object_id, AttemptOutcome("canceled", reason="deactivate")
                    )
                t.refresh_health()
            self.tick(pipeline_id, now=now)

    # --- objects --------------------------------------------------------------------

    def query_objects(
        self,
        pipeline_id: str,
        sphere: str,
        selectors: Sequence[Selector] = (),
        *,
        limit: int = 100,
        marker: str | None = None,
    ) -> tuple[list[str], str | None]:
        """QueryObjects: matching ids in id order, and the marker of the next page. The
        components of a pipeline never activated are those of its latest definition."""
        record = self._require(pipeline_id)
        if sphere == "COMPONENT" and not record.active_definition:
            # Refuse what the API refuses, as for any other query.
            self.state.query_object_ids(pipeline_id, sphere, selectors, limit=limit)
            matching = sorted(
                item.object_id
                for item in self._draft_components(record)
                if (marker is None or item.object_id > marker)
                and all(
                    selector_matches(
                        selector,
                        {column: getattr(item, column) for column in QUERY_FIELDS.values()},
                    )
                    for selector in selectors
                )
            )
            return matching[:limit], (matching[limit - 1] if len(matching) > limit else None)
        return self.state.query_object_ids(
            pipeline_id, sphere, selectors, limit=limit, marker=marker
        )

    def describe_objects(
        self,
        pipeline_id: str,
        object_ids: Sequence[str],
        *,
        evaluate_expressions: bool = False,
    ) -> list[dict[str, Any]]:
        """DescribeObjects: the objects with these ids (unknown ids are left out), in
        API form. The components of a pipeline never activated are those of its latest
        definition, ``PENDING``."""
        record = self._require(pipeline_id)
        document = record.active_definition or record.latest_definition
        definition = definition_from_api(document) if document else None
        plan = self.plan(pipeline_id) if evaluate_expressions and record.active_definition else None
        evaluator = None
        found = self.state.objects(pipeline_id, list(object_ids))
        if not record.active_definition and definition is not None:
            drafts = {item.object_id: item for item in self._draft_components(record, definition)}
            known = {item.object_id for item in found}
            found += [drafts[key] for key in object_ids if key in drafts and key not in known]
            if evaluate_expressions:
                evaluator = _draft_evaluator(definition)
        return [
            object_to_api(
                item, definition, plan=plan, evaluate=evaluate_expressions, evaluator=evaluator
            )
            for item in found
        ]

    def _draft_components(
        self, record: PipelineRecord, definition: PipelineDefinition | None = None
    ) -> list[ObjectRecord]:
        """The components of the latest definition of a pipeline never activated."""
        if definition is None:
            if not record.latest_definition:
                return []
            definition = definition_from_api(record.latest_definition)
        return [
            ObjectRecord(
                pipeline_id=record.pipeline_id,
                object_id=item.id,
                name=item.name,
                sphere="COMPONENT",
                status=ObjectStatus.PENDING.value,
                parent_id=next((f.value for f in item.fields if f.key == "parent"), None),
            )
            for item in definition.objects
        ]

    def evaluate_expression(
        self, pipeline_id: str, object_id: str, expression: str
    ) -> tuple[str, ...]:
        """EvaluateExpression: ``expression`` rendered in the scope of the object
        ``object_id`` (a component, or an instance or attempt with its runtime fields).
        Raises ``ConfigError`` for an unknown object or an expression that fails."""
        record = self._require(pipeline_id)
        item = self.state.object(pipeline_id, object_id)
        if record.active_definition:
            plan = self.plan(pipeline_id)
            evaluator = plan.evaluator
            runtime: dict[str, Any] = {"@pipelineId": pipeline_id}
            if item is not None and item.sphere != "COMPONENT":
                runtime = dict(instance_runtime(plan, item))
                if item.sphere == "ATTEMPT":
                    runtime["@id"] = item.object_id
        else:
            draft = (
                _draft_evaluator(definition_from_api(record.latest_definition))
                if record.latest_definition
                else None
            )
            if draft is None:
                raise ConfigError(f"pipeline {pipeline_id} has no definition to evaluate in")
            evaluator = draft
            runtime = {"@pipelineId": pipeline_id}
        component_id = item.component_id if item is not None and item.component_id else object_id
        if component_id not in evaluator.graph:
            raise ConfigError(f"pipeline {pipeline_id} has no object {object_id!r}")
        try:
            return evaluator.render(component_id, expression, runtime)
        except (ExpressionError, KeyError) as exc:
            raise ConfigError(f"cannot evaluate the expression: {exc}") from None

    def instances(
        self, pipeline_id: str, *, statuses: Iterable[str] | None = None
    ) -> list[ObjectRecord]:
        """The pipeline's instances, in scheduled order."""
        self._require(pipeline_id)
        return self.state.objects(pipeline_id, sphere="INSTANCE", statuses=statuses)

    def attempts(self, pipeline_id: str, instance_id: str) -> list[ObjectRecord]:
        """The attempts of one instance, first first."""
        found = [
            item
            for item in self.state.objects(pipeline_id, sphere="ATTEMPT")
            if item.instance_id == instance_id
        ]
        return sorted(found, key=lambda item: item.attempt)

    def request_cancel(self, pipeline_id: str, instance_id: str, reason: str) -> None:
        """Ask for an instance to be canceled (as SetStatus ``TRY_CANCEL`` does), for
        ``reason``; the next tick cancels it."""
        with self.state.transaction() as db:
            record = self.state.object(pipeline_id, instance_id, db=db)
            if record is not None and record.status not in ENDED and not record.cancel_requested:
                self.state.update_object(pipeline_id, instance_id, db, cancel_requested=reason)

    def set_status(
        self,
        pipeline_id: str,
        object_ids: Sequence[str],
        status: str,
        *,
        now: datetime | None = None,
        authorize: Callable[[PipelinePlan, PipelineRecord], None] | None = None,
    ) -> list[StatusChange]:
        """SetStatus: ``PAUSE`` or ``RESUME`` components; ``TRY_CANCEL``, ``RERUN`` or
        ``MARK_FINISHED`` instances (never both kinds in one call). ``authorize`` sees
        the plan before a ``RERUN`` and raises to refuse it."""
        command = status.upper()
        if command not in _COMPONENT_COMMANDS | _INSTANCE_COMMANDS:
            raise ConfigError(
                f"status must be PAUSE, RESUME, TRY_CANCEL, RERUN or MARK_FINISHED, not {status!r}"
            )
        record = self._require(pipeline_id)
        if record.state == PipelineState.FINISHED:
            raise ConfigError(f"pipeline {pipeline_id} is FINISHED; its objects keep their status")
        objects = self.state.objects(pipeline_id, list(object_ids))
        missing = set(object_ids) - {item.object_id for item in objects}
        if missing:
            raise ConfigError(f"no objects with ids {', '.join(sorted(missing))}")
        spheres = {item.sphere for item in objects}
        wanted = "COMPONENT" if command in _COMPONENT_COMMANDS else "INSTANCE"
        if spheres - {wanted}:
            raise ConfigError(
                f"{command} applies to {wanted.lower()}s only; component and instance ids "
                "cannot be mixed"
            )
        plan = self.plan(pipeline_id) if record.active_definition else None
        if command == "RERUN" and plan is not None and authorize is not None:
            authorize(plan, record)
        with self.state.transaction() as db:
            if plan is None:
                for item in objects:
                    self.state.update_object(
                        pipeline_id,
                        item.object_id,
                        db,
                        status=ObjectStatus.PAUSED.value if command == "PAUSE" else record.state,
                    )
                return []
            t = Transitions(self.state, db, plan, self._now(now))
            for item in objects:
                _apply_command(t, item, command)
            t.refresh_health()
            return t.changes

    # --- running --------------------------------------------------------------------

    def plan(self, pipeline_id: str) -> PipelinePlan:
        """The plan of the pipeline's active definition."""
        record = self._require(pipeline_id)
        if not record.active_definition or not record.first_activated:
            raise ConfigError(f"pipeline {pipeline_id} has never been activated")
        key = (pipeline_id, record.version)
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = build_plan(
                    definition_from_api(record.active_definition),
                    pipeline_id,
                    parse_datetime(record.first_activated),
                )
                self._plans = {k: v for k, v in self._plans.items() if k[0] != pipeline_id}
                self._plans[key] = plan
        return plan

    def tick(
        self,
        pipeline_id: str,
        *,
        now: datetime | None = None,
        plan_until: datetime | None = None,
    ) -> Tick:
        """Move the pipeline along at ``now`` (see ``ddbpipe.pipeline.tick``); instances
        are planned up to ``plan_until``."""
        moment = self._now(now)
        record = self._require(pipeline_id)
        if record.state not in (PipelineState.SCHEDULED, PipelineState.DEACTIVATING):
            return Tick(pipeline_id, record.state)
        plan = self.plan(pipeline_id)
        with self.state.transaction() as db:
            record = self._require(pipeline_id, db)
            t = Transitions(self.state, db, plan, moment)
            return advance(t, record, plan_until=whole_seconds(plan_until) if plan_until else None)

    def tick_all(self, *, now: datetime | None = None) -> list[Tick]:
        """A tick of every active pipeline."""
        return [
            self.tick(record.pipeline_id, now=now)
            for record in self.state.pipelines()
            if record.state in (PipelineState.SCHEDULED, PipelineState.DEACTIVATING)
        ]

    def start_attempt(
        self, pipeline_id: str, instance_id: str, *, hostname: str, now: datetime | None = None
    ) -> tuple[AttemptTicket | None, list[StatusChange]]:
        """Start the next attempt of an instance that is waiting for a runner."""
        plan = self.plan(pipeline_id)
        with self.state.transaction() as db:
            t = Transitions(self.state, db, plan, self._now(now))
            ticket = start_attempt(t, instance_id, hostname)
            return ticket, t.changes

    def finish_attempt(
        self,
        pipeline_id: str,
        attempt_id: str,
        outcome: AttemptOutcome,
        *,
        now: datetime | None = None,
    ) -> list[StatusChange]:
        """Record how an attempt ended (see ``ddbpipe.pipeline.attempts``)."""
        plan = self.plan(pipeline_id)
        with self.state.transaction() as db:
            t = Transitions(self.state, db, plan, self._now(now))
            finish_attempt(t, attempt_id, outcome)
            t.refresh_health()
            return t.changes

    def record_progress(
        self, pipeline_id: str, object_ids: Iterable[str], fields: Mapping[str, str]
    ) -> None:
        """Keep runtime fields reported while an attempt runs (``reportProgressTime``,
        counts) on the attempt and its instance."""
        with self.state.transaction() as db:
            for object_id in object_ids:
                if self.state.object(pipeline_id, object_id, db=db) is not None:
                    self.state.update_object(pipeline_id, object_id, db, fields=dict(fields))

    def record_precondition(
        self,
        pipeline_id: str,
        instance_id: str,
        precondition_id: str,
        *,
        met: bool,
        error: str | None = None,
        now: datetime | None = None,
    ) -> list[StatusChange]:
        """Record a precondition check (see ``ddbpipe.pipeline.attempts``)."""
        plan = self.plan(pipeline_id)
        with self.state.transaction() as db:
            t = Transitions(self.state, db, plan, self._now(now))
            record_precondition(t, instance_id, precondition_id, met, error)
            t.refresh_health()
            return t.changes

    def recover(
        self, pipeline_id: str, *, message: str = INTERRUPTED, now: datetime | None = None
    ) -> list[str]:
        """Mark attempts left running by a runner that stopped (see
        ``ddbpipe.pipeline.attempts``); return their ids."""
        record = self._require(pipeline_id)
        if not record.active_definition:
            return []
        plan = self.plan(pipeline_id)
        with self.state.transaction() as db:
            t = Transitions(self.state, db, plan, self._now(now))
            recovered = recover_attempts(t, message)
            t.refresh_health()
            return recovered

    # --- remote tasks (``ddbpipe.pipeline.tasks``) -------------------------------------

    def start_task(
        self,
        pipeline_id: str,
        instance_id: str,
        *,
        worker_group: str,
        hostname: str,
        log_url: str | None = None,
        now: datetime | None = None,
    ) -> tuple[AttemptTicket, str] | None:
        """Start the next attempt of ``instance_id`` as a task for a task runner: the
        ticket and the task id, or None when the instance may not start now (it is not
        waiting for a runner, its component is paused, its pipeline is not active)."""
        plan = self.plan(pipeline_id)
        with self.state.transaction() as db:
            record = self._require(pipeline_id, db)
            instance = self.state.object(pipeline_id, instance_id, db=db)
            if record.state != PipelineState.SCHEDULED or instance is None:
                return None
            component = self.state.object(pipeline_id, instance.component_id or "", db=db)
            if component is not None and component.status == ObjectStatus.PAUSED:
                return None
            t = Transitions(self.state, db, plan, self._now(now))
            return start_task(t, instance_id, worker_group, hostname, log_url)

    def task_attempt(self, task_id: str) -> tuple[PipelineRecord, ObjectRecord] | None:
        """The pipeline and the attempt of the task ``task_id``; None for no such task.
        Raises ``PipelineNotFoundError`` when its pipeline is gone."""
        ref = decode_task_id(task_id)
        if ref is None:
            return None
        record = self._require(ref.pipeline_id)
        attempt = self.state.object(ref.pipeline_id, ref.attempt_id)
        task = attempt.internal.get("task") if attempt is not None else None
        if attempt is None or not isinstance(task, dict) or task.get("secret") != ref.secret:
            return None
        return record, attempt

    def report_task_progress(
        self, task_id: str, fields: Mapping[str, str], *, now: datetime | None = None
    ) -> bool | None:
        """ReportTaskProgress: True when the task runner should stop (its attempt ended),
        False to go on, None for no such task."""
        ref = decode_task_id(task_id)
        if ref is None:
            return None
        plan = self.plan(ref.pipeline_id)
        with self.state.transaction() as db:
            t = Transitions(self.state, db, plan, self._now(now))
            return touch_task(t, ref, fields)

    def finish_task(
        self,
        task_id: str,
        status: str,
        *,
        error_id: str | None = None,
        error_message: str | None = None,
        stack_trace: str | None = None,
        now: datetime | None = None,
    ) -> list[StatusChange] | None:
        """SetTaskStatus: record how the task ended (see ``ddbpipe.pipeline.tasks``);
        None for no such task. A task whose attempt already ended is left as it is."""
        found = self.task_attempt(task_id)
        if found is None:
            return None
        _, attempt = found
        if attempt.status in ENDED:
            return []
        host = str(attempt.internal["task"].get("hostname") or "an unknown host")
        outcome = remote_outcome(
            status,
            error_id=error_id,
            error_message=error_message,
            stack_trace=stack_trace,
            hostname=host,
        )
        return self.finish_attempt(attempt.pipeline_id, attempt.object_id, outcome, now=now)

    def expire_tasks(self, pipeline_id: str, *, now: datetime | None = None) -> list[StatusChange]:
        """Fail the remote attempts whose task runner missed its deadline; they are
        retried at once."""
        moment = self._now(now)
        running = self.state.objects(pipeline_id, sphere="ATTEMPT", statuses=[ObjectStatus.RUNNING])
        deadlines = [task_deadline(attempt) for attempt in running]
        if not any(deadline is not None and deadline <= moment for deadline in deadlines):
            return []
        plan = self.plan(pipeline_id)
        with self.state.transaction() as db:
            t = Transitions(self.state, db, plan, moment)
            for attempt_id, outcome in expire_tasks(t):
                finish_attempt(t, attempt_id, outcome)
            t.refresh_health()
            return t.changes

    def unfinished(self, pipeline_id: str) -> list[ObjectRecord]:
        """Instances of the pipeline that have not ended."""
        return [item for item in self.instances(pipeline_id) if item.status not in ENDED]


_SECOND = timedelta(seconds=1)


def _draft_evaluator(definition: PipelineDefinition) -> FieldEvaluator | None:
    """An evaluator of a definition that may not be valid yet (None when its parameters
    cannot be read)."""
    try:
        scope = resolve_parameters(definition).scope_values()
    except ConfigError:
        return None
    return FieldEvaluator(ObjectGraph(definition), scope)


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    if len(tags) > MAX_TAGS:
        raise ConfigError(f"a pipeline has at most {MAX_TAGS} tags, not {len(tags)}")
    problems = [
        f"tag key {key!r} must be 1 to 128 characters" for key in tags if not 1 <= len(key) <= 128
    ] + [
        f"tag value of {key!r} must be at most 256 characters"
        for key, value in tags.items()
        if len(value) > 256
    ]
    if problems:
        raise ConfigError(problems)
    return [{"key": key, "value": value} for key, value in tags.items()]


def _refuse_long_backfill(plan: PipelinePlan, moment: datetime) -> None:
    problems: dict[str, list[str]] = {}
    for component in plan.components.values():
        spec = component.schedule
        if spec.kind == "ondemand" or spec.start is None:
            continue
        if spec.run_time(0) < moment - MAX_BACKFILL:
            problems.setdefault(component.id, []).append(
                f"BACKFILL_TOO_LONG: its schedule starts at {format_datetime(spec.start)}, more "
                f"than a day before the activation ({format_datetime(moment)}); activating would "
                "backfill every interval since. Move startDateTime closer."
            )
    if problems:
        raise PipelineInvalidError(problems)


def _apply_command(t: Transitions, item: ObjectRecord, command: str) -> None:
    if command == "PAUSE":
        t.update(item, status=ObjectStatus.PAUSED.value)
    elif command == "RESUME":
        t.update(item, status=ObjectStatus.SCHEDULED.value)
    elif command == "TRY_CANCEL":
        if item.status not in ENDED:
            t.update(item, cancel_requested="TRY_CANCEL")
    elif command == "MARK_FINISHED":
        if item.status != ObjectStatus.RUNNING:
            t.move(item, ObjectStatus.MARK_FINISHED, fields=t.clear_errors())
    elif command == "RERUN":
        _rerun(t, item)


def _rerun(t: Transitions, item: ObjectRecord) -> None:
    if item.status in (ObjectStatus.RUNNING, ObjectStatus.WAITING_FOR_RUNNER):
        return
    t.move(
        item,
        ObjectStatus.WAITING_ON_DEPENDENCIES,
        retries=0,
        not_before=None,
        cancel_requested=None,
        actual_end=None,
        fields={**t.clear_errors(), "@cascadeFailedOn": None},
        internal={"preconditions": None, "waiting_since": None, "late": None},
    )
    for consumer in t.state.objects(
        t.pipeline_id, sphere="INSTANCE", statuses=[ObjectStatus.CASCADE_FAILED], db=t.db
    ):
        origin = consumer.fields.get("@cascadeFailedOn")
        if isinstance(origin, dict) and origin.get("ref") == item.object_id:
            _rerun(t, consumer)
