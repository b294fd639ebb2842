"""The engine over the state: the API's operations, ticks, attempts, retries, timeouts,
cascades, preconditions, actions and health, on simulated time (no jobs run here)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ddbpipe.errors import ConfigError, PipelineInvalidError, PipelineNotFoundError
from ddbpipe.pipeline.attempts import INTERRUPTED, AttemptOutcome
from ddbpipe.pipeline.definition import PipelineDefinition
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.ids import is_pipeline_id
from ddbpipe.pipeline.queries import Selector
from ddbpipe.pipeline.state import StateStore
from ddbpipe.pipeline.tick import Tick
from tests.support.pipelines import definition

START = datetime(2026, 3, 2, 14, 7, tzinfo=UTC)
JAR = "s3://any/tools.jar,org.apache.hadoop.dynamodb.tools."
STAMP = "#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"


def copy_objects(
    *,
    schedule: dict[str, str] | None = None,
    cascade: bool = True,
    backup: dict[str, Any] | None = None,
    load: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
    extra: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Export Orders to a folder, then import that folder into Copy, on one cluster."""
    default: dict[str, Any] = {"id": "Default", "role": "R", "resourceRole": "RR"}
    if cascade:
        default["failureAndRerunMode"] = "CASCADE"
    objects: list[dict[str, Any]] = []
    if schedule is None:
        default["scheduleType"] = "ondemand"
    else:
        default["scheduleType"] = "cron"
        default["schedule"] = {"ref": "Every"}
        objects.append({"id": "Every", "type": "Schedule", **schedule})
    objects += [
        default,
        {"id": "Orders", "type": "DynamoDBDataNode", "tableName": "Orders"},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": f"/backups/{STAMP}"},
        {"id": "Copy", "type": "DynamoDBDataNode", "tableName": "Copy"},
        {"id": "Cluster", "type": "EmrCluster", "releaseLabel": "emr-5.23.0", **(cluster or {})},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Orders"},
            "output": {"ref": "Folder"},
            "runsOn": {"ref": "Cluster"},
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}}",
            **(backup or {}),
        },
        {
            "id": "Load",
            "type": "EmrActivity",
            "input": {"ref": "Folder"},
            "output": {"ref": "Copy"},
            "runsOn": {"ref": "Cluster"},
            "step": f"{JAR}DynamoDBImport,#{{input.directoryPath}},#{{output.tableName}}",
            **(load or {}),
        },
        *(extra or []),
    ]
    return objects


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[PipelineEngine]:
    with StateStore.in_folder(tmp_path) as store:
        yield PipelineEngine(store)


def activated(engine: PipelineEngine, objects: list[dict[str, Any]], now: datetime = START) -> str:
    pipeline_id = engine.create_pipeline("copy", "copy-1", now=now)
    engine.put_definition(pipeline_id, definition(objects), now=now)
    engine.activate(pipeline_id, now=now)
    return pipeline_id


def statuses(engine: PipelineEngine, pipeline_id: str) -> dict[str, str]:
    return {(item.component_id or ""): item.status or "" for item in engine.instances(pipeline_id)}


def run_attempt(
    engine: PipelineEngine,
    pipeline_id: str,
    tick: Tick,
    component: str,
    outcome: AttemptOutcome,
    now: datetime = START,
) -> str:
    (ready,) = [item for item in tick.ready if item.component_id == component]
    ticket, _ = engine.start_attempt(pipeline_id, ready.instance_id, hostname="host", now=now)
    assert ticket is not None
    engine.finish_attempt(pipeline_id, ticket.attempt_id, outcome, now=now)
    return ticket.attempt_id


FINISHED = AttemptOutcome("finished", summary="done")


def permanent(message: str = "table 'Orders' not found in region us-east-1") -> AttemptOutcome:
    return AttemptOutcome("failed", "TableNotFoundError", message, "Traceback…", transient=False)


def transient(message: str = "throttled") -> AttemptOutcome:
    return AttemptOutcome("failed", "RetriesExhaustedError", message, transient=True)


# --- pipelines ------------------------------------------------------------------------


def test_create_pipeline_is_idempotent_on_name_and_unique_id(engine: PipelineEngine) -> None:
    first = engine.create_pipeline("nightly", "token-1", tags={"team": "data"})
    assert is_pipeline_id(first)
    assert engine.create_pipeline("nightly", "token-1") == first
    assert engine.create_pipeline("nightly", "token-2") != first
    description = engine.describe_pipeline(first)
    fields = {field["key"]: field["stringValue"] for field in description["fields"]}
    assert fields["@pipelineState"] == "PENDING"
    assert fields["uniqueId"] == "token-1"
    assert fields["@sphere"] == "PIPELINE"
    assert description["tags"] == [{"key": "team", "value": "data"}]


def test_unknown_and_deleted_pipelines_are_told_apart(engine: PipelineEngine) -> None:
    with pytest.raises(PipelineNotFoundError, match="does not exist"):
        engine.describe_pipeline("df-00000000000000000000")
    pipeline_id = engine.create_pipeline("gone", "gone")
    engine.delete_pipeline(pipeline_id)
    with pytest.raises(PipelineNotFoundError, match="was deleted") as caught:
        engine.describe_pipeline(pipeline_id)
    assert caught.value.deleted
    assert engine.create_pipeline("gone", "gone") != pipeline_id  # a new pipeline
    assert [r.pipeline_id for r in engine.list_pipelines()] != [pipeline_id]


def test_tags_are_added_and_removed(engine: PipelineEngine) -> None:
    pipeline_id = engine.create_pipeline("t", "t", tags={"a": "1"})
    engine.add_tags(pipeline_id, {"a": "2", "b": "3"})
    engine.remove_tags(pipeline_id, ["b"])
    assert engine.pipeline(pipeline_id).tags == [{"key": "a", "value": "2"}]
    with pytest.raises(ConfigError, match="at most 10 tags"):
        engine.add_tags(pipeline_id, {f"k{n}": "v" for n in range(11)})


# --- definitions and activation -------------------------------------------------------


def test_fatal_problems_save_nothing_and_errors_block_activation(engine: PipelineEngine) -> None:
    pipeline_id = engine.create_pipeline("p", "p")
    empty_field = definition([{"id": "Default", "scheduleType": "ondemand", "role": ""}])
    with pytest.raises(PipelineInvalidError, match="EMPTY_FIELD_VALUE"):
        engine.put_definition(pipeline_id, empty_field)
    assert engine.get_definition(pipeline_id) is None
    errored = definition(
        [{"id": "Default", "scheduleType": "ondemand"}, {"id": "X", "type": "Nope"}]
    )
    assert engine.put_definition(pipeline_id, errored).errored
    assert engine.get_definition(pipeline_id) == errored
    with pytest.raises(PipelineInvalidError, match="INVALID_OBJECT_TYPE"):
        engine.activate(pipeline_id)
    assert engine.pipeline(pipeline_id).state == "PENDING"


def test_activation_needs_a_definition(engine: PipelineEngine) -> None:
    pipeline_id = engine.create_pipeline("p", "p")
    with pytest.raises(ConfigError, match="no definition"):
        engine.activate(pipeline_id)


def test_a_first_activation_may_not_backfill_more_than_a_day(engine: PipelineEngine) -> None:
    old = {"period": "1 hour", "startDateTime": "2026-02-28T00:00:00"}
    pipeline_id = engine.create_pipeline("old", "old")
    engine.put_definition(pipeline_id, definition(copy_objects(schedule=old)))
    with pytest.raises(PipelineInvalidError, match="BACKFILL_TOO_LONG") as caught:
        engine.activate(pipeline_id, now=START)
    assert "2026-02-28T00:00:00" in str(caught.value)
    engine.activate(pipeline_id, now=START, start_timestamp=datetime(2026, 3, 2, 12, tzinfo=UTC))
    tick = engine.tick(pipeline_id, now=START)
    backups = [r for r in tick.ready if r.component_id == "Backup"]
    assert [r.instance_id for r in backups] == ["@Backup_2026-03-02T12:00:00"]


def test_each_activation_of_an_on_demand_pipeline_is_one_run(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    tick = engine.tick(pipeline_id, now=START)
    assert [r.instance_id for r in tick.ready] == ["@Backup_2026-03-02T14:07:00"]
    run_attempt(engine, pipeline_id, tick, "Backup", FINISHED)
    tick = engine.tick(pipeline_id, now=START)
    run_attempt(engine, pipeline_id, tick, "Load", FINISHED)
    tick = engine.tick(pipeline_id, now=START)
    assert tick.state == "FINISHED"
    assert engine.pipeline(pipeline_id).health == "HEALTHY"
    engine.activate(pipeline_id, now=START)  # the same second: the run is one second later
    tick = engine.tick(pipeline_id, now=START)
    assert [r.instance_id for r in tick.ready] == ["@Backup_2026-03-02T14:07:01"]
    assert engine.pipeline(pipeline_id).version == 2


# --- ticks ----------------------------------------------------------------------------


def test_a_cron_pipeline_backfills_in_order_one_at_a_time(engine: PipelineEngine) -> None:
    schedule = {"period": "15 minutes", "startDateTime": "2026-03-02T13:00:00"}
    pipeline_id = activated(engine, copy_objects(schedule=schedule))
    tick = engine.tick(pipeline_id, now=START)
    backups = [i for i in engine.instances(pipeline_id) if i.component_id == "Backup"]
    assert [i.scheduled_start for i in backups] == [
        "2026-03-02T13:00:00",
        "2026-03-02T13:15:00",
        "2026-03-02T13:30:00",
        "2026-03-02T13:45:00",
        "2026-03-02T14:00:00",
    ]
    assert [r.instance_id for r in tick.ready] == ["@Backup_2026-03-02T13:00:00"]
    assert tick.next_run == datetime(2026, 3, 2, 14, 15, tzinfo=UTC)
    engine.tick(pipeline_id, now=START)
    assert len(engine.instances(pipeline_id)) == 6 * 5  # six components; never planned twice


def test_max_active_instances_lets_several_run_at_once(engine: PipelineEngine) -> None:
    schedule = {"period": "15 minutes", "startDateTime": "2026-03-02T13:00:00"}
    objects = copy_objects(schedule=schedule, backup={"maxActiveInstances": "3"})
    pipeline_id = activated(engine, objects)
    tick = engine.tick(pipeline_id, now=START)
    assert len([r for r in tick.ready if r.component_id == "Backup"]) == 3


def test_an_activity_waits_for_the_activity_that_writes_its_input(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    tick = engine.tick(pipeline_id, now=START)
    assert statuses(engine, pipeline_id) == {
        "Orders": "FINISHED",
        "Folder": "WAITING_ON_DEPENDENCIES",
        "Copy": "WAITING_ON_DEPENDENCIES",
        "Cluster": "WAITING_ON_DEPENDENCIES",
        "Backup": "WAITING_FOR_RUNNER",
        "Load": "WAITING_ON_DEPENDENCIES",
    }
    load = next(i for i in engine.instances(pipeline_id) if i.component_id == "Load")
    assert load.fields["@waitingOn"] == [{"ref": "@Folder_2026-03-02T14:07:00"}]
    run_attempt(engine, pipeline_id, tick, "Backup", FINISHED)
    assert statuses(engine, pipeline_id)["Cluster"] == "RUNNING"
    tick = engine.tick(pipeline_id, now=START)
    assert [r.component_id for r in tick.ready] == ["Load"]
    assert statuses(engine, pipeline_id)["Folder"] == "FINISHED"


def test_a_permanent_error_fails_at_once_and_cascades(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    tick = engine.tick(pipeline_id, now=START)
    run_attempt(engine, pipeline_id, tick, "Backup", permanent())
    tick = engine.tick(pipeline_id, now=START)
    found = {i.component_id: i for i in engine.instances(pipeline_id)}
    backup = found["Backup"]
    assert backup.status == "FAILED"
    assert backup.attempt == 1
    assert backup.fields["errorMessage"] == (
        "permanent error, not retried: table 'Orders' not found in region us-east-1"
    )
    assert backup.fields["errorStackTrace"] == "Traceback…"
    for consumer in ("Folder", "Load", "Copy"):
        assert found[consumer].status == "CASCADE_FAILED"
        assert found[consumer].fields["@cascadeFailedOn"] == {"ref": backup.object_id}
    assert found["Cluster"].status == "FINISHED"
    assert tick.state == "FINISHED"
    assert engine.pipeline(pipeline_id).health == "ERROR"
    component = engine.describe_objects(pipeline_id, ["Backup"])[0]
    assert {"key": "@healthStatus", "stringValue": "ERROR"} in component["fields"]


def test_without_cascade_consumers_keep_waiting_and_nothing_can_move(
    engine: PipelineEngine,
) -> None:
    pipeline_id = activated(engine, copy_objects(cascade=False))
    tick = engine.tick(pipeline_id, now=START)
    run_attempt(engine, pipeline_id, tick, "Backup", permanent())
    tick = engine.tick(pipeline_id, now=START)
    assert statuses(engine, pipeline_id)["Load"] == "WAITING_ON_DEPENDENCIES"
    assert tick.settled
    assert tick.state == "SCHEDULED"


def test_transient_errors_are_retried_after_retry_delay(engine: PipelineEngine) -> None:
    objects = copy_objects(backup={"maximumRetries": "2", "retryDelay": "5 minutes"})
    pipeline_id = activated(engine, objects)
    now = START
    tick = engine.tick(pipeline_id, now=now)
    for attempt in range(1, 4):
        run_attempt(engine, pipeline_id, tick, "Backup", transient(f"throttled {attempt}"), now)
        tick = engine.tick(pipeline_id, now=now + timedelta(minutes=4, seconds=59))
        assert not [r for r in tick.ready if r.component_id == "Backup"]
        if attempt < 3:
            assert tick.next_time == now + timedelta(minutes=5)
        now += timedelta(minutes=5)
        tick = engine.tick(pipeline_id, now=now)
    backup = next(i for i in engine.instances(pipeline_id) if i.component_id == "Backup")
    assert backup.status == "FAILED"
    assert backup.retries == 2
    assert backup.fields["errorMessage"] == "throttled 3 (no retry left after 3 attempts)"
    attempts = engine.attempts(pipeline_id, backup.object_id)
    assert [a.status for a in attempts] == ["FAILED", "FAILED", "FAILED"]
    assert attempts[0].object_id.endswith("_Attempt=1")


def test_an_attempt_past_its_timeout_is_canceled_then_retried(engine: PipelineEngine) -> None:
    objects = copy_objects(backup={"attemptTimeout": "1 hour", "retryDelay": "2 minutes"})
    pipeline_id = activated(engine, objects)
    tick = engine.tick(pipeline_id, now=START)
    ticket, _ = engine.start_attempt(
        pipeline_id, tick.ready[0].instance_id, hostname="h", now=START
    )
    assert ticket is not None
    tick = engine.tick(pipeline_id, now=START + timedelta(minutes=59))
    assert tick.cancels == []
    assert tick.next_time == START + timedelta(hours=1)
    tick = engine.tick(pipeline_id, now=START + timedelta(hours=1))
    assert [(c.attempt_id, c.reason) for c in tick.cancels] == [
        (ticket.attempt_id, "attemptTimeout")
    ]
    later = START + timedelta(hours=1, seconds=5)
    engine.finish_attempt(
        pipeline_id,
        ticket.attempt_id,
        AttemptOutcome("canceled", reason="attemptTimeout"),
        now=later,
    )
    (attempt,) = engine.attempts(pipeline_id, ticket.instance_id)
    assert attempt.status == "TIMEDOUT"
    assert "attemptTimeout (1 hour)" in attempt.fields["errorMessage"]
    tick = engine.tick(pipeline_id, now=later + timedelta(minutes=2))
    assert [r.instance_id for r in tick.ready] == [ticket.instance_id]


def test_a_resource_past_terminate_after_times_out_and_its_work_is_canceled(
    engine: PipelineEngine,
) -> None:
    pipeline_id = activated(engine, copy_objects(cluster={"terminateAfter": "2 hours"}))
    tick = engine.tick(pipeline_id, now=START)
    ticket, _ = engine.start_attempt(
        pipeline_id, tick.ready[0].instance_id, hostname="h", now=START
    )
    assert ticket is not None
    assert ticket.resource_instance_id == "@Cluster_2026-03-02T14:07:00"
    tick = engine.tick(pipeline_id, now=START + timedelta(hours=2))
    assert [(c.attempt_id, c.reason) for c in tick.cancels] == [
        (ticket.attempt_id, "terminateAfter")
    ]
    assert statuses(engine, pipeline_id)["Cluster"] == "TIMEDOUT"
    engine.finish_attempt(
        pipeline_id,
        ticket.attempt_id,
        AttemptOutcome("canceled", reason="terminateAfter"),
        now=START + timedelta(hours=2),
    )
    engine.tick(pipeline_id, now=START + timedelta(hours=2))
    found = statuses(engine, pipeline_id)
    assert found["Backup"] == "CANCELED"
    assert found["Folder"] == "CASCADE_FAILED"
    assert found["Load"] == "CANCELED"  # it runs on the same cluster
    (attempt,) = engine.attempts(pipeline_id, ticket.instance_id)
    assert attempt.status == "CANCELED"
    assert "terminateAfter" in attempt.fields["errorMessage"]


def test_a_stopped_runner_leaves_work_to_go_on_without_using_a_retry(
    engine: PipelineEngine,
) -> None:
    pipeline_id = activated(engine, copy_objects(backup={"maximumRetries": "0"}))
    tick = engine.tick(pipeline_id, now=START)
    run_attempt(engine, pipeline_id, tick, "Backup", AttemptOutcome("canceled", reason="stop"))
    backup = next(i for i in engine.instances(pipeline_id) if i.component_id == "Backup")
    assert (backup.status, backup.retries) == ("WAITING_FOR_RUNNER", 0)
    tick = engine.tick(pipeline_id, now=START)
    assert [r.component_id for r in tick.ready] == ["Backup"]


def test_attempts_left_running_are_interrupted_and_retried_at_once(
    engine: PipelineEngine,
) -> None:
    pipeline_id = activated(engine, copy_objects(backup={"retryDelay": "30 minutes"}))
    tick = engine.tick(pipeline_id, now=START)
    ticket, _ = engine.start_attempt(
        pipeline_id, tick.ready[0].instance_id, hostname="h", now=START
    )
    assert ticket is not None
    assert engine.recover(pipeline_id, now=START) == [ticket.attempt_id]
    (attempt,) = engine.attempts(pipeline_id, ticket.instance_id)
    assert (attempt.status, attempt.fields["errorMessage"]) == ("FAILED", INTERRUPTED)
    tick = engine.tick(pipeline_id, now=START)
    assert [r.instance_id for r in tick.ready] == [ticket.instance_id]
    backup = next(i for i in engine.instances(pipeline_id) if i.component_id == "Backup")
    assert backup.retries == 1


# --- SetStatus and deactivation -------------------------------------------------------


def test_set_status_is_refused_once_the_pipeline_finished(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    tick = engine.tick(pipeline_id, now=START)
    run_attempt(engine, pipeline_id, tick, "Backup", permanent())
    assert engine.tick(pipeline_id, now=START).state == "FINISHED"
    with pytest.raises(ConfigError, match="is FINISHED"):
        engine.set_status(pipeline_id, [tick.ready[0].instance_id], "RERUN")


def test_pause_and_resume_a_component(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    engine.set_status(pipeline_id, ["Backup"], "PAUSE")
    assert engine.tick(pipeline_id, now=START).ready == []
    engine.set_status(pipeline_id, ["Backup"], "RESUME")
    assert [r.component_id for r in engine.tick(pipeline_id, now=START).ready] == ["Backup"]
    with pytest.raises(ConfigError, match="cannot be mixed"):
        engine.set_status(pipeline_id, ["Backup", "@Backup_2026-03-02T14:07:00"], "PAUSE")
    with pytest.raises(ConfigError, match="status must be"):
        engine.set_status(pipeline_id, ["Backup"], "STOP")


def test_try_cancel_mark_finished_and_rerun_instances(engine: PipelineEngine) -> None:
    hourly = {"period": "1 hour", "startDateTime": "2026-03-02T14:00:00"}
    pipeline_id = activated(engine, copy_objects(schedule=hourly))
    tick = engine.tick(pipeline_id, now=START)
    backup_id = tick.ready[0].instance_id
    run_attempt(engine, pipeline_id, tick, "Backup", permanent())
    engine.tick(pipeline_id, now=START)
    load_id = "@Load_2026-03-02T14:00:00"
    assert statuses(engine, pipeline_id)["Load"] == "CASCADE_FAILED"
    engine.set_status(pipeline_id, [backup_id], "RERUN")  # its cascade-failed consumers too
    assert statuses(engine, pipeline_id)["Load"] == "WAITING_ON_DEPENDENCIES"
    tick = engine.tick(pipeline_id, now=START)
    assert [r.instance_id for r in tick.ready] == [backup_id]
    engine.set_status(pipeline_id, [backup_id], "MARK_FINISHED")
    tick = engine.tick(pipeline_id, now=START)
    assert [r.instance_id for r in tick.ready] == [load_id]
    engine.set_status(pipeline_id, [load_id], "TRY_CANCEL")
    engine.tick(pipeline_id, now=START)
    assert statuses(engine, pipeline_id)["Load"] == "CANCELED"


def test_deactivation_with_no_runner_cancels_what_was_left_running(
    engine: PipelineEngine,
) -> None:
    pipeline_id = activated(engine, copy_objects())
    tick = engine.tick(pipeline_id, now=START)
    engine.start_attempt(pipeline_id, tick.ready[0].instance_id, hostname="h", now=START)
    engine.deactivate(pipeline_id, now=START)
    assert engine.pipeline(pipeline_id).state == "INACTIVE"
    (attempt,) = engine.attempts(pipeline_id, tick.ready[0].instance_id)
    assert attempt.status == "CANCELED"
    assert attempt.fields["errorMessage"] == "canceled: the pipeline was deactivated"
    assert statuses(engine, pipeline_id)["Backup"] == "CANCELED"
    assert engine.tick(pipeline_id, now=START).ready == []


def test_a_running_pipeline_is_deactivated_through_its_runner(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    tick = engine.tick(pipeline_id, now=START)
    ticket, _ = engine.start_attempt(
        pipeline_id, tick.ready[0].instance_id, hostname="h", now=START
    )
    assert ticket is not None
    assert engine.state.acquire_lease(pipeline_id, "runner", ttl=60) is not None
    engine.deactivate(pipeline_id, now=START)
    tick = engine.tick(pipeline_id, now=START)
    assert tick.state == "DEACTIVATING"
    assert [(c.attempt_id, c.reason) for c in tick.cancels] == [(ticket.attempt_id, "deactivate")]
    engine.finish_attempt(
        pipeline_id, ticket.attempt_id, AttemptOutcome("canceled", reason="deactivate"), now=START
    )
    assert engine.tick(pipeline_id, now=START).state == "INACTIVE"
    assert statuses(engine, pipeline_id)["Backup"] == "CANCELED"


# --- preconditions and actions --------------------------------------------------------


def test_a_precondition_is_checked_until_met(engine: PipelineEngine) -> None:
    ready = {
        "id": "Ready",
        "type": "S3PrefixNotEmpty",
        "role": "R",
        "s3Prefix": "/in",
        "retryDelay": "3 minutes",
    }
    objects = copy_objects(backup={"precondition": {"ref": "Ready"}}, extra=[ready])
    pipeline_id = activated(engine, objects)
    tick = engine.tick(pipeline_id, now=START)
    assert tick.ready == []
    (check,) = tick.checks
    assert (check.component_id, check.precondition_id) == ("Backup", "Ready")
    engine.record_precondition(pipeline_id, check.instance_id, "Ready", met=False, now=START)
    tick = engine.tick(pipeline_id, now=START + timedelta(minutes=2))
    assert tick.checks == []
    assert tick.next_time == START + timedelta(minutes=3)
    tick = engine.tick(pipeline_id, now=START + timedelta(minutes=3))
    engine.record_precondition(pipeline_id, check.instance_id, "Ready", met=True, now=START)
    tick = engine.tick(pipeline_id, now=START + timedelta(minutes=3))
    assert [r.component_id for r in tick.ready] == ["Backup"]


def test_a_precondition_not_met_in_time_fails_its_instance(engine: PipelineEngine) -> None:
    ready = {
        "id": "Ready",
        "type": "DynamoDBTableExists",
        "role": "R",
        "tableName": "Orders",
        "preconditionTimeout": "10 minutes",
    }
    objects = copy_objects(backup={"precondition": {"ref": "Ready"}}, extra=[ready])
    pipeline_id = activated(engine, objects)
    tick = engine.tick(pipeline_id, now=START)
    engine.record_precondition(
        pipeline_id, tick.checks[0].instance_id, "Ready", met=False, now=START
    )
    engine.tick(pipeline_id, now=START + timedelta(minutes=10))
    backup = next(i for i in engine.instances(pipeline_id) if i.component_id == "Backup")
    assert backup.status == "FAILED"
    assert backup.fields["errorMessage"] == (
        "precondition Ready was not met within its preconditionTimeout (10 minutes)"
    )


def test_precondition_errors_count_against_its_retries(engine: PipelineEngine) -> None:
    ready = {
        "id": "Ready",
        "type": "S3KeyExists",
        "role": "R",
        "s3Key": "/in/k",
        "maximumRetries": "1",
    }
    objects = copy_objects(backup={"precondition": {"ref": "Ready"}}, extra=[ready])
    pipeline_id = activated(engine, objects)
    instance_id = engine.tick(pipeline_id, now=START).checks[0].instance_id
    for _ in range(2):
        engine.record_precondition(
            pipeline_id, instance_id, "Ready", met=False, error="access denied", now=START
        )
    backup = next(i for i in engine.instances(pipeline_id) if i.component_id == "Backup")
    assert backup.status == "FAILED"
    assert backup.fields["errorMessage"] == "precondition Ready could not be checked: access denied"


def test_failures_and_lateness_queue_their_actions(engine: PipelineEngine) -> None:
    alarm = {
        "id": "Alarm",
        "type": "SnsAlarm",
        "role": "R",
        "topicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "subject": "s",
        "message": "m",
    }
    schedule = {"period": "1 hour", "startDateTime": "2026-03-02T14:00:00"}
    objects = copy_objects(
        schedule=schedule,
        backup={"onFail": {"ref": "Alarm"}},
        load={
            "lateAfterTimeout": "30 minutes",
            "onLateAction": [{"ref": "Alarm"}, {"ref": "Stop"}],
        },
        extra=[alarm, {"id": "Stop", "type": "Terminate"}],
    )
    pipeline_id = activated(engine, objects)
    tick = engine.tick(pipeline_id, now=START)
    run_attempt(engine, pipeline_id, tick, "Backup", permanent())
    engine.tick(pipeline_id, now=START + timedelta(minutes=30))
    pending = [(a, n, e) for _, a, n, e in engine.state.pending_actions(pipeline_id)]
    assert ("Alarm", "@Backup_2026-03-02T14:00:00", "onFail") in pending


def test_a_late_instance_sets_off_its_late_actions_once(engine: PipelineEngine) -> None:
    schedule = {"period": "1 hour", "startDateTime": "2026-03-02T14:00:00"}
    objects = copy_objects(
        schedule=schedule,
        backup={"lateAfterTimeout": "30 minutes", "onLateAction": {"ref": "Stop"}},
        extra=[{"id": "Stop", "type": "Terminate"}],
    )
    pipeline_id = activated(engine, objects)
    tick = engine.tick(pipeline_id, now=START)
    assert tick.next_time == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    engine.tick(pipeline_id, now=START + timedelta(minutes=30))
    engine.tick(pipeline_id, now=START + timedelta(minutes=31))
    pending = [(a, n, e) for _, a, n, e in engine.state.pending_actions(pipeline_id)]
    assert pending == [("Stop", "@Backup_2026-03-02T14:00:00", "onLateAction")]


# --- objects as the API shows them ----------------------------------------------------


def test_objects_answer_query_objects_and_describe_objects(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    tick = engine.tick(pipeline_id, now=START)
    run_attempt(engine, pipeline_id, tick, "Backup", FINISHED)
    ids, marker = engine.query_objects(
        pipeline_id,
        "INSTANCE",
        [
            Selector("@status", "EQ", ("FINISHED",)),
            Selector("@actualStartTime", "BETWEEN", ("2026-03-02T00:00:00", "2026-03-03T00:00:00")),
        ],
    )
    assert ids == ["@Backup_2026-03-02T14:07:00", "@Orders_2026-03-02T14:07:00"]
    assert marker is None
    attempts, _ = engine.query_objects(
        pipeline_id,
        "ATTEMPT",
        [Selector("@instanceParent", "REF_EQ", ("@Backup_2026-03-02T14:07:00",))],
    )
    assert attempts == ["@Backup_2026-03-02T14:07:00_Attempt=1"]
    (described,) = engine.describe_objects(
        pipeline_id, ["@Backup_2026-03-02T14:07:00"], evaluate_expressions=True
    )
    fields: dict[str, Any] = {}
    for field in described["fields"]:
        fields.setdefault(field["key"], field.get("stringValue", field.get("refValue")))
    # What `aws datapipeline list-runs` reads from every instance:
    assert fields["@componentParent"] == "Backup"
    assert fields["@id"] == "@Backup_2026-03-02T14:07:00"
    assert fields["@status"] == "FINISHED"
    assert fields["@scheduledStartTime"] == "2026-03-02T14:07:00"
    assert fields["@actualStartTime"] == "2026-03-02T14:07:00"
    assert fields["@actualEndTime"] == "2026-03-02T14:07:00"
    assert fields["step"].endswith(",/backups/2026-03-02-14-07-00,Orders")  # rendered
    assert engine.describe_objects(pipeline_id, ["nope"]) == []


def test_definition_changes_make_a_new_version(engine: PipelineEngine) -> None:
    pipeline_id = activated(engine, copy_objects())
    changed: PipelineDefinition = definition(copy_objects(backup={"maximumRetries": "4"}))
    engine.put_definition(pipeline_id, changed)
    assert engine.get_definition(pipeline_id, "active") != changed
    engine.activate(pipeline_id, now=START + timedelta(minutes=1))
    assert engine.get_definition(pipeline_id, "active") == changed
    assert engine.plan(pipeline_id).components["Backup"].maximum_retries == 4
