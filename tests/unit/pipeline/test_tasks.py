"""Remote tasks and the hooks where activities become jobs: task ids, the objects a task
runner gets and the plan it rebuilds from them, how a task ends, lost task runners, Dask
for jobs on an EmrCluster, and a ``JobAccess`` that refuses or rewrites jobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ddbpipe.errors import AccessDeniedError
from ddbpipe.pipeline import jobs
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.jobs import AttemptJob, JobPlan, job_plans, run_attempt
from ddbpipe.pipeline.logs import ActivityLog
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import StateStore
from ddbpipe.pipeline.steps import ExportStep
from ddbpipe.pipeline.tasks import (
    LOST_ERROR_ID,
    STOPPED_ERROR_ID,
    TaskRef,
    decode_task_id,
    encode_task_id,
    remote_outcome,
    task_objects,
    task_plan,
)
from ddbpipe.transfer.cancel import CancelToken
from tests.support.clock import SimulatedClock
from tests.support.pipelines import definition

START = datetime(2026, 3, 2, 14, 7, tzinfo=UTC)
JAR = "s3://any/tools.jar,org.apache.hadoop.dynamodb.tools."


def objects(where: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": "Default", "scheduleType": "ondemand", "reportProgressTimeout": "20 minutes"},
        {
            "id": "Orders",
            "type": "DynamoDBDataNode",
            "tableName": "#{myTable}",
            "region": "eu-west-1",
        },
        {
            "id": "Folder",
            "type": "S3DataNode",
            "directoryPath": "s3://b/#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}",
        },
        {"id": "Cluster", "type": "EmrCluster"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Orders"},
            "output": {"ref": "Folder"},
            "maximumRetries": "1",
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}},0.5",
            **where,
        },
    ]


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    store = StateStore.in_folder(tmp_path)
    made = PipelineEngine(store, clock=SimulatedClock(START))
    yield made
    store.close()


def activated(engine: PipelineEngine, where: dict[str, Any]) -> tuple[str, str]:
    name = uuid.uuid4().hex
    pipeline_id = engine.create_pipeline(name, name)
    engine.put_definition(pipeline_id, definition(objects(where), myTable="Orders"))
    engine.activate(pipeline_id)
    engine.tick(pipeline_id)
    (instance,) = [i for i in engine.instances(pipeline_id) if i.component_id == "Backup"]
    return pipeline_id, instance.object_id


def test_task_ids_are_opaque_and_name_what_they_stand_for() -> None:
    ref = TaskRef("df-ABC", "@Backup_2026-03-02T14:07:00_Attempt=1", "s3cret")
    task_id = encode_task_id(ref)
    assert "df-ABC" not in task_id
    assert decode_task_id(task_id) == ref
    assert decode_task_id("not a task!") is None
    assert decode_task_id(encode_task_id(ref)[:-4]) is None


def test_a_task_runner_rebuilds_the_same_jobs_from_what_the_service_sends(
    engine: PipelineEngine,
) -> None:
    pipeline_id, instance_id = activated(engine, {"workerGroup": "g"})
    plan = engine.plan(pipeline_id)
    assert plan.components["Backup"].remote
    started = engine.start_task(
        pipeline_id,
        instance_id,
        worker_group="g",
        hostname="h1",
        log_url="s3://logs/x/Activity.log",
    )
    assert started is not None
    ticket, task_id = started
    attempt = engine.state.object(pipeline_id, ticket.attempt_id)
    instance = engine.state.object(pipeline_id, instance_id)
    sent = task_objects(plan, instance, attempt)
    assert set(sent) == {ticket.attempt_id, "Orders", "Folder"}
    work = task_plan(
        {
            "taskId": task_id,
            "pipelineId": pipeline_id,
            "attemptId": ticket.attempt_id,
            "objects": sent,
        }
    )
    config = RunnerConfig()
    theirs = job_plans(work.plan, work.ticket.component_id, work.ticket.runtime, config)
    ours = job_plans(plan, "Backup", ticket.runtime, config)
    assert theirs == ours
    assert theirs[0].job == ExportStep(
        "s3://b/2026-03-02-14-07-00", "Orders", read_ratio=ours[0].job.read_ratio
    )
    assert theirs[0].region == "eu-west-1"
    assert work.log_url == "s3://logs/x/Activity.log"
    assert work.report_seconds == 20 * 60
    assert work.ticket.number == 1


def test_progress_keeps_a_task_and_a_silent_one_is_retried_elsewhere(
    engine: PipelineEngine,
) -> None:
    pipeline_id, instance_id = activated(engine, {"workerGroup": "g"})
    clock = engine.clock
    ticket, task_id = engine.start_task(pipeline_id, instance_id, worker_group="g", hostname="h1")
    clock.advance(timedelta(minutes=15))
    assert engine.report_task_progress(task_id, {"itemsProcessed": "10"}) is False
    clock.advance(timedelta(minutes=15))
    assert engine.expire_tasks(pipeline_id) == []  # the report moved the deadline on
    clock.advance(timedelta(minutes=6))
    expired = engine.expire_tasks(pipeline_id)
    assert {(c.object_id, c.status) for c in expired} >= {(ticket.attempt_id, "FAILED")}
    attempt = engine.state.object(pipeline_id, ticket.attempt_id)
    assert attempt.fields["errorId"] == LOST_ERROR_ID
    assert attempt.fields["itemsProcessed"] == "10"
    instance = engine.state.object(pipeline_id, instance_id)
    assert (instance.status, instance.retries, instance.not_before) == (
        "WAITING_FOR_RUNNER",
        1,
        None,
    )
    assert engine.report_task_progress(task_id, {}) is True  # its runner hears it is over
    assert engine.finish_task(task_id, "FINISHED") == []  # and is not heard any more


def test_how_a_task_runner_ends_a_task(engine: PipelineEngine) -> None:
    assert (
        remote_outcome(
            "FINISHED", error_id=None, error_message=None, stack_trace=None, hostname="h"
        ).status
        == "finished"
    )
    stopped = remote_outcome(
        "FAILED", error_id=STOPPED_ERROR_ID, error_message=None, stack_trace=None, hostname="h"
    )
    assert (stopped.status, stopped.reason) == ("canceled", "stop")
    throttled = remote_outcome(
        "FAILED",
        error_id="ThrottledError",
        error_message="slow down",
        stack_trace="...",
        hostname="h",
    )
    assert (throttled.status, throttled.transient) == ("failed", True)
    refused = remote_outcome(
        "FAILED",
        error_id="TableNotFoundError",
        error_message="no table",
        stack_trace=None,
        hostname="h",
    )
    assert refused.transient is False

    pipeline_id, instance_id = activated(engine, {"workerGroup": "g"})
    _, task_id = engine.start_task(pipeline_id, instance_id, worker_group="g", hostname="h")
    engine.finish_task(task_id, "FAILED", error_id=STOPPED_ERROR_ID)
    instance = engine.state.object(pipeline_id, instance_id)
    assert (instance.status, instance.retries) == ("WAITING_FOR_RUNNER", 0)
    _, task_id = engine.start_task(pipeline_id, instance_id, worker_group="g", hostname="h")
    engine.finish_task(task_id, "FAILED", error_id="TableNotFoundError", error_message="gone")
    instance = engine.state.object(pipeline_id, instance_id)
    assert instance.status == "FAILED"
    assert instance.fields["errorMessage"] == "permanent error, not retried: gone"
    assert engine.finish_task("bm9wZQ", "FINISHED") is None


def test_a_stopped_runner_leaves_remote_attempts_to_their_task_runners(
    engine: PipelineEngine,
) -> None:
    pipeline_id, instance_id = activated(engine, {"workerGroup": "g"})
    ticket, _ = engine.start_task(pipeline_id, instance_id, worker_group="g", hostname="h")
    assert engine.recover(pipeline_id) == []
    assert engine.state.object(pipeline_id, ticket.attempt_id).status == "RUNNING"


class Recorded:
    def __init__(self) -> None:
        self.configs: list[Any] = []

    def export(self, table: str, path: str, config: Any, **kwargs: Any) -> Any:
        self.configs.append((table, path, config))
        raise AccessDeniedError("dynamodb:Scan", table, "stand-in")  # ends the attempt


def run_one(
    engine: PipelineEngine,
    tmp_path: Path,
    where: dict[str, Any],
    access: Any = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> tuple[Any, Recorded]:
    pipeline_id, instance_id = activated(engine, where)
    ticket, _ = engine.start_attempt(pipeline_id, instance_id, hostname="h")
    recorded = Recorded()
    assert monkeypatch is not None
    monkeypatch.setattr(jobs, "export_table", recorded.export)
    monkeypatch.setattr(
        jobs, "open_store", lambda *a, **k: type("S", (), {"exists": lambda self, n: False})()
    )
    log = ActivityLog(str(tmp_path / "Activity.log"), clock=engine.clock)
    job = AttemptJob(
        engine.plan(pipeline_id),
        ticket,
        RunnerConfig(dask="tcp://127.0.0.1:1"),
        tmp_path,
        CancelToken(),
        log,
        access=access,
    )
    return run_attempt(job), recorded


def test_jobs_on_an_emr_cluster_use_the_runners_dask_cluster(
    engine: PipelineEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, on_cluster = run_one(
        engine, tmp_path, {"runsOn": {"ref": "Cluster"}}, monkeypatch=monkeypatch
    )
    assert on_cluster.configs[0][2].dask == "tcp://127.0.0.1:1"


def test_jobs_of_a_worker_group_run_on_this_machine(
    engine: PipelineEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, remote = run_one(engine, tmp_path, {"workerGroup": "g"}, monkeypatch=monkeypatch)
    assert remote.configs[0][2].dask is None


class Access:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.seen: list[tuple[str, Sequence[JobPlan], str | None]] = []

    def jobs(
        self, plan: PipelinePlan, activity_id: str, planned: Sequence[JobPlan], log_url: str | None
    ) -> Sequence[JobPlan]:
        self.seen.append((activity_id, planned, log_url))
        if self.refuse:
            raise AccessDeniedError("dynamodb:Scan", "arn:aws:dynamodb:::table/Orders")
        return [
            JobPlan(ExportStep("/resolved/out", j.job.table), j.region, j.ratio, j.cluster)
            for j in planned
        ]

    def log_root(self, root: str) -> str:
        return root


def test_job_access_sees_the_jobs_first_and_may_refuse_or_rewrite_them(
    engine: PipelineEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing = Access(refuse=True)
    outcome, recorded = run_one(
        engine, tmp_path, {"runsOn": {"ref": "Cluster"}}, refusing, monkeypatch
    )
    assert (outcome.status, outcome.transient) == ("failed", False)
    assert (
        outcome.error_message == "access denied: dynamodb:Scan on arn:aws:dynamodb:::table/Orders"
    )
    assert recorded.configs == []  # nothing ran
    assert refusing.seen[0][0] == "Backup"
    assert refusing.seen[0][2] == str(tmp_path / "Activity.log")

    rewriting = Access(refuse=False)
    _, recorded = run_one(
        engine,
        tmp_path,
        {"runsOn": {"ref": "Cluster"}, "maximumRetries": "2"},
        rewriting,
        monkeypatch,
    )
    assert recorded.configs[0][:2] == ("Orders", "/resolved/out")
