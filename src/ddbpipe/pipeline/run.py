"""Run a pipeline definition from start to end: the library call behind
``ddbpipe pipeline run`` and ``ddbpipe pipeline resume``.

``run_pipeline`` validates the definition with its parameter values (errors raise
``PipelineInvalidError``, before anything is saved), creates the pipeline — or finds the
one created before with the same name and unique id, as CreatePipeline does — saves the
definition, activates it and runs it in this process. Running the same name again
continues that pipeline: when a runner before it stopped with work unfinished, that work
goes on from its checkpoints; otherwise it is activated again (an on-demand pipeline
runs once more; a scheduled one plans on from its last instance, and what finished is
never run again). ``resume_pipeline`` continues a pipeline by id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ddbpipe.errors import ConfigError, PipelineInvalidError
from ddbpipe.pipeline.clock import Clock
from ddbpipe.pipeline.definition import (
    ParameterValue,
    PipelineDefinition,
    definition_from_api,
    definition_to_api,
)
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.runner import PipelineRunner, RunEvent
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import ObjectRecord, StateStore
from ddbpipe.pipeline.statuses import ENDED, ObjectStatus, PipelineState
from ddbpipe.pipeline.validation import validate_definition
from ddbpipe.sessions import AnySession
from ddbpipe.transfer.cancel import StopFlag
from ddbpipe.transfer.executor import start_worker_server
from ddbpipe.transfer.options import default_workers

__all__ = ["InstanceResult", "PipelineRunResult", "resume_pipeline", "run_pipeline"]

_SUCCESS = (ObjectStatus.FINISHED, ObjectStatus.MARK_FINISHED)


@dataclass(frozen=True)
class InstanceResult:
    """One instance of a run: its component, status, times, attempts, the error of a
    failure, the log of its latest attempt, and what it did."""

    instance_id: str
    component_id: str
    component_type: str
    status: str
    scheduled_start: str | None
    actual_start: str | None
    actual_end: str | None
    attempts: int
    error_message: str | None = None
    log: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class PipelineRunResult:
    """How a run of a pipeline ended: its id, state and health, and its instances.

    ``stopped`` is set when the run was stopped before its end (it can be resumed).
    """

    pipeline_id: str
    name: str
    state: str
    health: str | None
    instances: tuple[InstanceResult, ...]
    stopped: bool = False

    @property
    def failed(self) -> tuple[InstanceResult, ...]:
        """Instances that failed, timed out, were canceled or cascade-failed."""
        failures = {
            ObjectStatus.FAILED,
            ObjectStatus.TIMEDOUT,
            ObjectStatus.CANCELED,
            ObjectStatus.CASCADE_FAILED,
        }
        return tuple(item for item in self.instances if item.status in failures)

    @property
    def ok(self) -> bool:
        """Whether every instance finished and the run was not stopped."""
        return not self.stopped and all(item.status in _SUCCESS for item in self.instances)


def run_pipeline(
    definition: PipelineDefinition,
    *,
    name: str,
    state_dir: str | os.PathLike[str],
    parameter_values: Sequence[ParameterValue] | None = None,
    once: bool = False,
    unique_id: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    config: RunnerConfig | None = None,
    clock: Clock | None = None,
    cancel: StopFlag | None = None,
    on_event: Callable[[RunEvent], None] | None = None,
    session: AnySession | None = None,
) -> PipelineRunResult:
    """Create (or find) the pipeline ``name``, save and activate ``definition``, and run
    it here until it is done; see the module doc.

    ``parameter_values`` replace the definition's own values. ``once`` runs what is due
    now (backfill included) and returns; otherwise a schedule without an end runs until
    ``cancel`` is set. ``state_dir`` holds the state database, import checkpoints and
    logs of pipelines without a ``pipelineLogUri``.
    """
    if parameter_values is not None:
        definition = replace(definition, parameter_values=tuple(parameter_values))
    config = config or RunnerConfig()
    config.check()
    _start_workers(config)
    with _engine(state_dir, clock) as engine:
        result = validate_definition(definition, now=engine.clock.now())
        if result.errored:
            raise PipelineInvalidError({**result.fatal, **result.errors}, result.warnings)
        pipeline_id = engine.create_pipeline(
            name, unique_id or name, description=description, tags=tags
        )
        record = engine.pipeline(pipeline_id)
        _save_settings(engine, pipeline_id, config)
        wanted = definition_to_api(definition)
        changed = record.latest_definition != wanted
        if changed:
            engine.put_definition(pipeline_id, definition)
        if (
            changed
            or record.state in (PipelineState.PENDING, PipelineState.INACTIVE)
            or not engine.unfinished(pipeline_id)
        ):
            engine.activate(pipeline_id)
        return _run(engine, pipeline_id, state_dir, config, once, cancel, on_event, session)


def resume_pipeline(
    pipeline_id: str,
    *,
    state_dir: str | os.PathLike[str],
    once: bool = False,
    config: RunnerConfig | None = None,
    clock: Clock | None = None,
    cancel: StopFlag | None = None,
    on_event: Callable[[RunEvent], None] | None = None,
    session: AnySession | None = None,
) -> PipelineRunResult:
    """Continue the pipeline ``pipeline_id``: attempts a stopped runner left running
    are marked interrupted and retried from their checkpoints, and the pipeline runs on
    as ``run_pipeline`` would."""
    config = config or RunnerConfig()
    config.check()
    _start_workers(config)
    with _engine(state_dir, clock) as engine:
        record = engine.pipeline(pipeline_id)
        if record.state == PipelineState.PENDING:
            raise ConfigError(f"pipeline {pipeline_id} was never activated: run it first")
        if record.state == PipelineState.INACTIVE:
            engine.activate(
                pipeline_id,
                parameter_values=definition_from_api(record.active_definition).parameter_values
                if record.active_definition
                else None,
            )
        return _run(engine, pipeline_id, state_dir, config, once, cancel, on_event, session)


class _engine:
    """An engine over the state database of ``state_dir``, closed at the end."""

    def __init__(self, state_dir: str | os.PathLike[str], clock: Clock | None) -> None:
        self.state = StateStore.in_folder(state_dir)
        self.engine = PipelineEngine(self.state, clock=clock)

    def __enter__(self) -> PipelineEngine:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self.state.close()


def _save_settings(engine: PipelineEngine, pipeline_id: str, config: RunnerConfig) -> None:
    settings = {
        "region": config.dynamo.region,
        "profile": config.dynamo.profile,
        "endpoint_url": config.dynamo.endpoint_url,
        "s3_region": config.store.region,
        "s3_endpoint_url": config.store.endpoint_url,
        "sns_endpoint_url": config.sns_endpoint_url,
        "workers": config.workers,
        "max_rcu": config.max_rcu,
        "max_wcu": config.max_wcu,
        "dask": config.dask,
    }
    with engine.state.transaction() as db:
        engine.state.update_pipeline(
            pipeline_id,
            db,
            run_settings={key: value for key, value in settings.items() if value is not None},
        )


def _start_workers(config: RunnerConfig) -> None:
    """Jobs run on the runner's threads, whose worker processes come from a fork server:
    start it while the pipeline is planned (unless jobs run inline or on Dask)."""
    if config.dask is None and (config.workers or default_workers()) > 1:
        start_worker_server()


def _run(
    engine: PipelineEngine,
    pipeline_id: str,
    state_dir: str | os.PathLike[str],
    config: RunnerConfig,
    once: bool,
    cancel: StopFlag | None,
    on_event: Callable[[RunEvent], None] | None,
    session: AnySession | None,
) -> PipelineRunResult:
    runner = PipelineRunner(
        engine,
        pipeline_id,
        state_dir=Path(state_dir),
        config=config,
        once=once,
        cancel=cancel,
        on_event=on_event,
        session=session,
    )
    stopped = runner.run()
    return run_result(engine, pipeline_id, runner.touched, stopped=stopped)


def run_result(
    engine: PipelineEngine, pipeline_id: str, touched: set[str], *, stopped: bool = False
) -> PipelineRunResult:
    """The result of a run that moved the instances ``touched``: those, every instance
    still unfinished, or, when neither is any, the latest instance of each component."""
    record = engine.pipeline(pipeline_id)
    instances = engine.instances(pipeline_id)
    chosen = [i for i in instances if i.object_id in touched or i.status not in ENDED]
    if not chosen:
        latest: dict[str, ObjectRecord] = {}
        for item in instances:
            latest[item.component_id or ""] = item
        chosen = sorted(latest.values(), key=lambda i: (i.scheduled_start or "", i.object_id))
    plan = engine.plan(pipeline_id) if record.active_definition else None
    results = []
    for item in chosen:
        component = plan.components.get(item.component_id or "") if plan else None
        attempts = engine.attempts(pipeline_id, item.object_id) if item.attempt else []
        log = attempts[-1].fields.get("emrStepLog") if attempts else None
        error = item.fields.get("errorMessage")
        results.append(
            InstanceResult(
                instance_id=item.object_id,
                component_id=item.component_id or "",
                component_type=component.type if component else "",
                status=item.status or "",
                scheduled_start=item.scheduled_start,
                actual_start=item.actual_start,
                actual_end=item.actual_end,
                attempts=item.attempt,
                error_message=error if isinstance(error, str) else None,
                log=log if isinstance(log, str) else None,
                summary=item.internal.get("summary"),
            )
        )
    return PipelineRunResult(
        pipeline_id,
        record.name,
        record.state,
        record.health,
        tuple(results),
        stopped=stopped,
    )
