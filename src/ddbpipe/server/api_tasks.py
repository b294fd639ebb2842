"""The task runner's operations: PollForTask, ReportTaskProgress,
ReportTaskRunnerHeartbeat and SetTaskStatus, and the board where the scheduler's
runners offer the work of ``workerGroup`` activities.

A pipeline runner offers the instances of its remote activities that may start now
(``TaskBoard.offer``, replaced at every tick). PollForTask waits up to the server's
``poll_wait`` seconds for an offer of its worker group, then starts the attempt as a
task (``PipelineEngine.start_task``), checks its jobs against the role they run as (a
refusal fails the attempt, and the next offer is tried), and returns the attempt with
its activity's fields rendered and the data nodes it reads and writes
(``ddbpipe.pipeline.tasks``). Task ids are opaque; ReportTaskProgress keeps the task
(its ``reportProgressTimeout`` starts again) and answers ``canceled`` once the attempt
ended on the service's side; SetTaskStatus ends it; a task that no task runner reports
on in time is failed and retried elsewhere by its pipeline's runner.

Condition keys: ``datapipeline:workerGroup`` (the poll's, or the task's), and for a task
its pipeline's creator and tags.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio

from ddbpipe.errors import DdbpipeError
from ddbpipe.pipeline.attempts import AttemptOutcome
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.ids import attempt_id
from ddbpipe.pipeline.jobs import job_plans
from ddbpipe.pipeline.logs import attempt_log_url
from ddbpipe.pipeline.state import ObjectRecord
from ddbpipe.pipeline.tasks import task_objects
from ddbpipe.pipeline.tick import ReadyInstance
from ddbpipe.pipeline.transitions import ERROR_FIELDS, instance_runtime
from ddbpipe.server.authorization import AuthorizationKeys
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.operations import Call, Operation
from ddbpipe.server.service_context import ServiceContext

__all__ = ["POLL_STEP", "TaskBoard", "TaskRunnerInfo", "task_operations"]

POLL_STEP = 0.25
"""How often a waiting PollForTask looks at the board, in seconds."""
_RESERVED_FIELDS = frozenset({*ERROR_FIELDS, "hostname", "workerGroup", "reportProgressTime"})
_TASK_STATUSES = ("FINISHED", "FAILED")


@dataclass(frozen=True)
class TaskRunnerInfo:
    """A task runner as its heartbeats describe it."""

    taskrunner_id: str
    worker_group: str | None
    hostname: str | None
    seen: datetime


class TaskBoard:
    """Offers of remote work, by pipeline, and the task runners heard from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offers: dict[str, list[ReadyInstance]] = {}
        self._runners: dict[str, TaskRunnerInfo] = {}

    def offer(self, pipeline_id: str, ready: Sequence[ReadyInstance]) -> None:
        """What ``pipeline_id`` offers now (replacing its earlier offers)."""
        with self._lock:
            if ready:
                self._offers[pipeline_id] = list(ready)
            else:
                self._offers.pop(pipeline_id, None)

    def withdraw(self, pipeline_id: str) -> None:
        """Offer nothing more of ``pipeline_id``."""
        self.offer(pipeline_id, [])

    def offers(self) -> list[tuple[str, ReadyInstance]]:
        """Every offer, pipelines oldest-offered first."""
        with self._lock:
            return [(key, item) for key, items in self._offers.items() for item in items]

    def take(self, pipeline_id: str, instance_id: str) -> None:
        """Remove one offer (it was started, or is stale)."""
        with self._lock:
            items = self._offers.get(pipeline_id)
            if items is not None:
                kept = [item for item in items if item.instance_id != instance_id]
                if kept:
                    self._offers[pipeline_id] = kept
                else:
                    del self._offers[pipeline_id]

    def heartbeat(self, info: TaskRunnerInfo) -> None:
        """Record a task runner's heartbeat."""
        with self._lock:
            self._runners[info.taskrunner_id] = info

    def task_runners(self) -> list[TaskRunnerInfo]:
        """The task runners heard from, by id."""
        with self._lock:
            return sorted(self._runners.values(), key=lambda info: info.taskrunner_id)


def task_operations(ctx: ServiceContext, board: TaskBoard) -> list[Operation]:
    """The handlers of the task runner's operations over ``ctx`` and ``board``."""
    engine = ctx.engine

    def assign(worker_group: str, hostname: str) -> dict[str, Any] | None:
        for pipeline_id, ready in board.offers():
            try:
                plan = engine.plan(pipeline_id)
            except DdbpipeError:
                board.withdraw(pipeline_id)
                continue
            component = plan.components.get(ready.component_id)
            if component is None or component.worker_group != worker_group:
                continue
            board.take(pipeline_id, ready.instance_id)
            instance = engine.state.object(pipeline_id, ready.instance_id)
            if instance is None:
                continue
            log_url = _log_url(ctx, plan, ready, instance)
            started = engine.start_task(
                pipeline_id,
                ready.instance_id,
                worker_group=worker_group,
                hostname=hostname,
                log_url=log_url,
            )
            if started is None:
                continue
            ticket, task_id = started
            ctx.scheduler.wake(pipeline_id)
            try:
                jobs = job_plans(plan, ticket.component_id, ticket.runtime, ctx.runner_config)
                ctx.access.jobs(plan, ticket.component_id, jobs, log_url)
            except DdbpipeError as exc:
                engine.finish_attempt(
                    pipeline_id,
                    ticket.attempt_id,
                    AttemptOutcome(
                        "failed",
                        error_id=type(exc).__name__,
                        error_message=str(exc),
                        transient=exc.transient,
                    ),
                )
                continue
            attempt = engine.state.object(pipeline_id, ticket.attempt_id)
            current = engine.state.object(pipeline_id, ready.instance_id)
            assert attempt is not None
            assert current is not None
            return {
                "taskId": task_id,
                "pipelineId": pipeline_id,
                "attemptId": ticket.attempt_id,
                "objects": task_objects(plan, current, attempt),
            }
        return None

    def poll_keys(call: Call) -> list[AuthorizationKeys]:
        return [AuthorizationKeys(worker_group=call.input["workerGroup"])]

    async def poll(call: Call) -> dict[str, Any]:
        worker_group = call.input["workerGroup"]
        hostname = call.input.get("hostname") or call.caller.name
        deadline = anyio.current_time() + ctx.config.poll_wait
        while True:
            task = await anyio.to_thread.run_sync(assign, worker_group, hostname)
            if task is not None:
                return {"taskObject": task}
            left = deadline - anyio.current_time()
            if left <= 0:
                return {}
            await anyio.sleep(min(POLL_STEP, left))

    def task_keys(call: Call) -> list[AuthorizationKeys]:
        found = engine.task_attempt(call.input["taskId"])
        if found is None:
            raise ApiError(ErrorCode.TASK_NOT_FOUND, "The task was not found")
        record, attempt = found
        group = attempt.internal["task"].get("workerGroup")
        return [ctx.keys(record.pipeline_id, worker_group=group)]

    def progress(call: Call) -> dict[str, Any]:
        fields = {
            item["key"]: item["stringValue"]
            for item in call.input.get("fields", [])
            if "stringValue" in item
            and not item["key"].startswith("@")
            and item["key"] not in _RESERVED_FIELDS
        }
        canceled = engine.report_task_progress(call.input["taskId"], fields)
        if canceled is None:
            raise ApiError(ErrorCode.TASK_NOT_FOUND, "The task was not found")
        return {"canceled": canceled}

    def heartbeat_keys(call: Call) -> list[AuthorizationKeys]:
        return [AuthorizationKeys(worker_group=call.input.get("workerGroup"))]

    def heartbeat(call: Call) -> dict[str, Any]:
        board.heartbeat(
            TaskRunnerInfo(
                call.input["taskrunnerId"],
                call.input.get("workerGroup"),
                call.input.get("hostname"),
                call.received_at,
            )
        )
        return {"terminate": False}

    def set_status(call: Call) -> None:
        status = call.input["taskStatus"]
        if status not in _TASK_STATUSES:
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                f"taskStatus {status} is for precondition tasks, which this server checks "
                "itself; a task it hands out ends FINISHED or FAILED",
            )
        error_id = call.input.get("errorId")
        if error_id and error_id.startswith("Service_"):
            raise ApiError(ErrorCode.INVALID_REQUEST, "errorId must not begin with 'Service_'")
        changes = engine.finish_task(
            call.input["taskId"],
            status,
            error_id=error_id,
            error_message=call.input.get("errorMessage"),
            stack_trace=call.input.get("errorStackTrace"),
        )
        if changes is None:
            raise ApiError(ErrorCode.TASK_NOT_FOUND, "The task was not found")
        found = engine.task_attempt(call.input["taskId"])
        if found is not None:
            ctx.scheduler.wake(found[0].pipeline_id)

    return [
        Operation("PollForTask", poll, keys=poll_keys),
        Operation("ReportTaskProgress", progress, keys=task_keys),
        Operation("ReportTaskRunnerHeartbeat", heartbeat, keys=heartbeat_keys),
        Operation("SetTaskStatus", set_status, keys=task_keys),
    ]


def _log_url(
    ctx: ServiceContext, plan: PipelinePlan, ready: ReadyInstance, instance: ObjectRecord
) -> str | None:
    """Where the task's attempt logs: under its ``pipelineLogUri`` (None without one:
    the task runner logs in its own state folder)."""
    try:
        root = plan.log_uri(ready.component_id, instance_runtime(plan, instance))
        if root is None:
            return None
        root = ctx.access.log_root(root)
    except DdbpipeError:
        return None
    next_attempt = attempt_id(instance.object_id, instance.attempt + 1)
    return attempt_log_url(
        root, plan.pipeline_id, ready.component_id, instance.object_id, next_attempt
    )
