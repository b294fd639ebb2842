"""The runner's loop on simulated time, with stand-in jobs: retries, backfill, schedules,
timeouts, stopping and resuming, and one runner per pipeline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ddbpipe.errors import PipelineBusyError
from ddbpipe.pipeline.attempts import AttemptOutcome
from ddbpipe.pipeline.jobs import AttemptJob
from ddbpipe.pipeline.run import resume_pipeline, run_pipeline
from ddbpipe.pipeline.runner import RunEvent
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import StateStore
from ddbpipe.transfer.cancel import CancelToken
from tests.support.clock import SimulatedClock
from tests.support.pipelines import attempts, definition, instances, of_component

START = datetime(2026, 3, 2, 14, 7, tzinfo=UTC)
JAR = "s3://any/tools.jar,org.apache.hadoop.dynamodb.tools."
CONFIG = RunnerConfig(poll_interval=3600, workers=1)


def export_objects(schedule: dict[str, str] | None = None, **backup: Any) -> list[dict[str, Any]]:
    default: dict[str, Any] = {"id": "Default", "failureAndRerunMode": "CASCADE"}
    objects: list[dict[str, Any]] = []
    if schedule is None:
        default["scheduleType"] = "ondemand"
    else:
        default.update(scheduleType="cron", schedule={"ref": "Every"})
        objects.append({"id": "Every", "type": "Schedule", **schedule})
    return [
        *objects,
        default,
        {"id": "Orders", "type": "DynamoDBDataNode", "tableName": "Orders"},
        {
            "id": "Folder",
            "type": "S3DataNode",
            "directoryPath": "/out/#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}",
        },
        {"id": "Cluster", "type": "EmrCluster"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Orders"},
            "output": {"ref": "Folder"},
            "runsOn": {"ref": "Cluster"},
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}}",
            **backup,
        },
    ]


def fake_jobs(
    monkeypatch: pytest.MonkeyPatch, job: Callable[[AttemptJob], AttemptOutcome]
) -> list[AttemptJob]:
    started: list[AttemptJob] = []

    def run_attempt(attempt: AttemptJob) -> AttemptOutcome:
        started.append(attempt)
        return job(attempt)

    monkeypatch.setattr("ddbpipe.pipeline.runner.run_attempt", run_attempt)
    return started


def outcomes(*results: AttemptOutcome) -> Callable[[AttemptJob], AttemptOutcome]:
    left = list(results)
    return lambda job: left.pop(0)


OK = AttemptOutcome("finished", summary="done")
THROTTLED = AttemptOutcome("failed", "RetriesExhaustedError", "throttled", transient=True)


def test_retry_delays_take_no_real_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_jobs(monkeypatch, outcomes(THROTTLED, THROTTLED, OK))
    clock = SimulatedClock(START)
    began = time.monotonic()
    result = run_pipeline(
        definition(export_objects(maximumRetries="2", retryDelay="10 minutes")),
        name="retry",
        state_dir=tmp_path,
        config=CONFIG,
        clock=clock,
    )
    assert time.monotonic() - began < 10
    assert result.ok
    (backup,) = [i for i in result.instances if i.component_id == "Backup"]
    assert backup.attempts == 3
    assert clock.now() >= START + timedelta(minutes=20)
    tries = attempts(tmp_path, result.pipeline_id, backup.instance_id)
    assert [a.status for a in tries] == ["FAILED", "FAILED", "FINISHED"]
    assert [a.actual_start for a in tries] == [
        "2026-03-02T14:07:00",
        "2026-03-02T14:17:00",
        "2026-03-02T14:27:00",
    ]


def test_once_runs_what_is_due_now_and_returns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started = fake_jobs(monkeypatch, lambda job: OK)
    schedule = {"period": "15 minutes", "startDateTime": "2026-03-02T13:00:00"}
    clock = SimulatedClock(START)
    result = run_pipeline(
        definition(export_objects(schedule)),
        name="cron",
        state_dir=tmp_path,
        once=True,
        config=CONFIG,
        clock=clock,
    )
    assert result.ok
    assert result.state == "SCHEDULED"
    assert [job.ticket.runtime["@scheduledStartTime"] for job in started] == [
        START.replace(hour=13, minute=0) + timedelta(minutes=15 * n) for n in range(5)
    ]
    again = run_pipeline(
        definition(export_objects(schedule)),
        name="cron",
        state_dir=tmp_path,
        once=True,
        config=CONFIG,
        clock=clock,
    )
    assert again.pipeline_id == result.pipeline_id
    assert len(started) == 5  # nothing new was due
    backups = of_component(instances(tmp_path, result.pipeline_id), "Backup")
    assert len(backups) == 5


def test_a_schedule_with_an_end_runs_to_its_end(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_jobs(monkeypatch, lambda job: OK)
    schedule = {"period": "1 hour", "startDateTime": "2026-03-02T14:00:00", "occurrences": "3"}
    clock = SimulatedClock(START)
    result = run_pipeline(
        definition(export_objects(schedule)),
        name="three",
        state_dir=tmp_path,
        config=CONFIG,
        clock=clock,
    )
    assert result.state == "FINISHED"
    assert result.health == "HEALTHY"
    backups = of_component(instances(tmp_path, result.pipeline_id), "Backup")
    assert [b.scheduled_start for b in backups] == [
        "2026-03-02T14:00:00",
        "2026-03-02T15:00:00",
        "2026-03-02T16:00:00",
    ]
    assert clock.now() == datetime(2026, 3, 2, 16, tzinfo=UTC)


def test_an_attempt_past_its_timeout_is_stopped_and_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    running = threading.Event()

    def job(attempt: AttemptJob) -> AttemptOutcome:
        if attempt.ticket.number > 1:
            return OK
        running.set()
        while not attempt.cancel.is_set():
            time.sleep(0.01)
        return AttemptOutcome("canceled", reason=attempt.cancel.reason)

    fake_jobs(monkeypatch, job)
    clock = SimulatedClock(START, auto=False)
    results: list[Any] = []
    objects = export_objects(attemptTimeout="1 hour", retryDelay="2 minutes")
    runner = threading.Thread(
        target=lambda: results.append(
            run_pipeline(
                definition(objects),
                name="slow",
                state_dir=tmp_path,
                config=RunnerConfig(poll_interval=0.05, workers=1),
                clock=clock,
            )
        )
    )
    runner.start()
    assert running.wait(10)
    clock.advance(timedelta(minutes=59))
    time.sleep(0.3)
    assert not results  # not yet
    clock.advance(timedelta(minutes=1))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = instances(tmp_path, _only_pipeline(tmp_path))
        backup = of_component(found, "Backup")[0]
        if backup.status == "WAITING_FOR_RUNNER":
            break
        time.sleep(0.05)
    clock.advance(timedelta(minutes=2))
    runner.join(10)
    (result,) = results
    assert result.ok
    (backup_result,) = [i for i in result.instances if i.component_id == "Backup"]
    tries = attempts(tmp_path, result.pipeline_id, backup_result.instance_id)
    assert [a.status for a in tries] == ["TIMEDOUT", "FINISHED"]


def _only_pipeline(state_dir: Path) -> str:
    with StateStore.in_folder(state_dir) as store:
        (record,) = store.pipelines()
        return record.pipeline_id


def test_a_stopped_run_goes_on_when_resumed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stop = CancelToken()

    def job(attempt: AttemptJob) -> AttemptOutcome:
        if attempt.ticket.number > 1:
            return OK
        stop.cancel("SIGINT")
        while not attempt.cancel.is_set():
            time.sleep(0.01)
        return AttemptOutcome("canceled", reason=attempt.cancel.reason, error_message="paused")

    fake_jobs(monkeypatch, job)
    events: list[RunEvent] = []
    result = run_pipeline(
        definition(export_objects(maximumRetries="0")),
        name="stop",
        state_dir=tmp_path,
        config=CONFIG,
        clock=SimulatedClock(START),
        cancel=stop,
        on_event=events.append,
    )
    assert result.stopped
    assert not result.ok
    (backup,) = [i for i in result.instances if i.component_id == "Backup"]
    assert backup.status == "WAITING_FOR_RUNNER"
    (attempt,) = attempts(tmp_path, result.pipeline_id, backup.instance_id)
    assert attempt.status == "CANCELED"
    assert attempt.fields["errorMessage"].startswith("stopped: the runner was stopped (SIGINT)")
    assert any(e.kind == "status" and e.status == "CANCELED" for e in events)
    resumed = resume_pipeline(
        result.pipeline_id, state_dir=tmp_path, config=CONFIG, clock=SimulatedClock(START)
    )
    assert resumed.ok
    assert resumed.state == "FINISHED"


def test_two_runners_never_run_one_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_jobs(monkeypatch, lambda job: OK)
    result = run_pipeline(
        definition(export_objects()),
        name="once",
        state_dir=tmp_path,
        config=CONFIG,
        clock=SimulatedClock(START),
    )
    with StateStore.in_folder(tmp_path) as store:
        assert store.acquire_lease(result.pipeline_id, "another runner", ttl=60) is not None
    with pytest.raises(PipelineBusyError, match="being run by another runner"):
        resume_pipeline(
            result.pipeline_id, state_dir=tmp_path, config=CONFIG, clock=SimulatedClock(START)
        )
