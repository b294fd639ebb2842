"""How pipelines fail, against real servers: a missing table fails at once; transient
faults are retried from the checkpoint until maximumRetries; attemptTimeout and
terminateAfter stop a running export on simulated time."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ddbpipe.backups.opener import open_backup
from ddbpipe.pipeline.run import PipelineRunResult, run_pipeline
from ddbpipe.pipeline.state import StateStore
from ddbpipe.retry import RetryPolicy
from tests.support.clock import SimulatedClock
from tests.support.compare import canonical_set
from tests.support.fault_proxy import ExactRule, FaultProxyFactory, Throttle
from tests.support.pipelines import (
    PIPELINES,
    attempts,
    connection_args,
    definition,
    instances,
    of_component,
    run_cli,
    run_instances,
    runner_config,
)
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, scan_all

STAMP = "#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"
JAR = "s3://dynamodb-dpl-us-east-1/tools.jar,org.apache.hadoop.dynamodb.tools."
START = datetime(2026, 3, 2, 14, 7, tzinfo=UTC)


def export_objects(
    table: str,
    out: Path,
    *,
    segments: int = 4,
    cluster: dict[str, str] | None = None,
    **backup: str,
) -> list[dict[str, Any]]:
    return [
        {"id": "Default", "scheduleType": "ondemand", "failureAndRerunMode": "CASCADE"},
        {"id": "Table", "type": "DynamoDBDataNode", "tableName": table},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": f"{out}/{STAMP}"},
        {"id": "Cluster", "type": "EmrCluster", "releaseLabel": "emr-5.23.0", **(cluster or {})},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "runsOn": {"ref": "Cluster"},
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}},1,"
            f"{segments}",
            **backup,
        },
    ]


def exported_keys(out: Path) -> list[str]:
    (folder,) = out.iterdir()
    backup = open_backup(str(folder))
    return [item["pk"]["S"] for f in backup.files for _, item in backup.iter_items(f)]


def test_a_missing_table_fails_at_once_without_retry(dynalite: Endpoint, tmp_path: Path) -> None:
    state = tmp_path / "state"
    began = time.monotonic()
    code, document, stderr = run_cli(
        "pipeline",
        "run",
        str(PIPELINES / "export-ondemand.json"),
        "--parameter-values",
        "myDDBTableName=no-such-table",
        "--parameter-values",
        f"myOutputS3Loc={tmp_path / 'out'}",
        "--parameter-values",
        f"myPipelineLogUri={tmp_path / 'logs'}",
        *connection_args(dynalite),
        "--state",
        str(state),
    )
    assert time.monotonic() - began < 30
    assert code == 11, stderr
    found = run_instances(document)
    activity = found["TableBackupActivity"]
    assert activity["status"] == "FAILED"
    assert activity["attempts"] == 1  # maximumRetries is 2, but a missing table is permanent
    assert activity["error_message"] == (
        "permanent error, not retried: table 'no-such-table' not found in region us-east-1"
    )
    assert found["S3BackupLocation"]["status"] == "CASCADE_FAILED"
    log = Path(activity["log"]).read_text()
    assert "failed with a permanent error: TableNotFoundError" in log
    assert "Traceback (most recent call last)" in log
    code, listing, _ = run_cli("pipeline", "list", "--state", str(state))
    assert code == 0
    (pipeline,) = listing["results"]
    assert (pipeline["state"], pipeline["health"]) == ("FINISHED", "ERROR")


def _run(
    objects: list[dict[str, Any]], tmp_path: Path, endpoint: Endpoint, **config: Any
) -> PipelineRunResult:
    return run_pipeline(
        definition(objects),
        name="faults",
        state_dir=tmp_path / "state",
        config=runner_config(endpoint, poll_interval=3600, **config),
        clock=SimulatedClock(START),
    )


QUICK_GIVE_UP = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)


def test_transient_faults_are_retried_maximum_retries_times_then_fail(
    dynalite: Endpoint, fault_proxy: FaultProxyFactory, unique_name: str, tmp_path: Path
) -> None:
    table = f"faults-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(200)])
    rule = ExactRule(Throttle(), "Scan", after=2)  # two segments' pages, then every Scan
    proxy = fault_proxy(dynalite, exact_rules=[rule])
    objects = export_objects(table, tmp_path / "out", maximumRetries="2", retryDelay="2 minutes")
    result = _run(objects, tmp_path, proxy.via(dynalite), retry=QUICK_GIVE_UP)
    (backup,) = [i for i in result.instances if i.component_id == "Backup"]
    assert backup.status == "FAILED"
    assert backup.attempts == 3
    assert "no retry left after 3 attempts" in (backup.error_message or "")
    tries = attempts(tmp_path / "state", result.pipeline_id, backup.instance_id)
    assert [a.status for a in tries] == ["FAILED"] * 3
    assert {a.fields["errorId"] for a in tries} == {"RetriesExhaustedError"}
    # Each retry starts retryDelay after the attempt before it ended (simulated time).
    gaps = [
        datetime.fromisoformat(later.actual_start or "")
        - datetime.fromisoformat(earlier.actual_end or "")
        for earlier, later in itertools.pairwise(tries)
    ]
    assert gaps == [timedelta(minutes=2)] * 2
    assert "going on from the checkpoint" in Path(tries[1].fields["emrStepLog"]).read_text()
    assert proxy.rule_stats(rule).fired >= 3 * QUICK_GIVE_UP.max_attempts


def test_transient_faults_that_stop_leave_every_item_exactly_once(
    dynalite: Endpoint, fault_proxy: FaultProxyFactory, unique_name: str, tmp_path: Path
) -> None:
    table = f"recover-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(300)])
    rule = ExactRule(Throttle(), "Scan", after=2, times=QUICK_GIVE_UP.max_attempts)
    proxy = fault_proxy(dynalite, exact_rules=[rule])
    out = tmp_path / "out"
    objects = export_objects(table, out, segments=6, maximumRetries="2", retryDelay="2 minutes")
    result = _run(objects, tmp_path, proxy.via(dynalite), retry=QUICK_GIVE_UP)
    assert result.ok, result
    (backup,) = [i for i in result.instances if i.component_id == "Backup"]
    assert backup.attempts == 2
    keys = exported_keys(out)
    assert len(keys) == 300
    assert set(keys) == {f"item-{n:05d}" for n in range(300)}
    (folder,) = out.iterdir()
    backup_items = open_backup(str(folder))
    assert canonical_set(
        [i for f in backup_items.files for _, i in backup_items.iter_items(f)]
    ) == canonical_set(scan_all(dynalite, table))


def _in_background(run: Callable[[], PipelineRunResult]) -> tuple[threading.Thread, list[Any]]:
    results: list[Any] = []

    def target() -> None:
        try:
            results.append(run())
        except BaseException as exc:  # surfaced by the test
            results.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, results


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _status_of(state: Path, component: str) -> str:
    """The status of the first instance of ``component`` of the one pipeline in
    ``state`` ("" before there is one)."""
    if not state.exists():
        return ""
    with StateStore.in_folder(state) as store:
        pipelines = store.pipelines()
    if not pipelines:
        return ""
    found = of_component(instances(state, pipelines[0].pipeline_id), component)
    return found[0].status or "" if found else ""


def test_an_attempt_past_its_timeout_times_out_and_is_retried(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"timeout-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(1500)])
    out, state = tmp_path / "out", tmp_path / "state"
    objects = export_objects(
        table, out, attemptTimeout="1 hour", retryDelay="2 minutes", maximumRetries="1"
    )
    clock = SimulatedClock(START, auto=False)
    slow = runner_config(dynalite, max_rcu=20.0, poll_interval=0.05)
    thread, results = _in_background(
        lambda: run_pipeline(
            definition(objects), name="slow", state_dir=state, config=slow, clock=clock
        )
    )
    _wait_for(lambda: _status_of(state, "Backup") == "RUNNING", "the attempt")
    clock.advance(timedelta(minutes=59, seconds=59))
    time.sleep(0.3)
    assert _status_of(state, "Backup") == "RUNNING"
    clock.advance(timedelta(seconds=1))
    _wait_for(lambda: _status_of(state, "Backup") == "WAITING_FOR_RUNNER", "the retry to wait")
    clock.advance(timedelta(minutes=2))
    thread.join(60)
    (result,) = results
    assert isinstance(result, PipelineRunResult)
    assert result.ok, result
    (backup,) = [i for i in result.instances if i.component_id == "Backup"]
    tries = attempts(state, result.pipeline_id, backup.instance_id)
    assert [a.status for a in tries] == ["TIMEDOUT", "FINISHED"]
    assert "attemptTimeout (1 hour)" in tries[0].fields["errorMessage"]
    keys = exported_keys(out)
    assert sorted(keys) == [f"item-{n:05d}" for n in range(1500)]


def test_a_cluster_past_terminate_after_times_out_and_cancels_its_work(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"terminate-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(1500)])
    out, state = tmp_path / "out", tmp_path / "state"
    objects = export_objects(table, out, cluster={"terminateAfter": "2 hours"})
    clock = SimulatedClock(START, auto=False)
    slow = runner_config(dynalite, max_rcu=20.0, poll_interval=0.05)
    thread, results = _in_background(
        lambda: run_pipeline(
            definition(objects), name="slow", state_dir=state, config=slow, clock=clock
        )
    )
    _wait_for(lambda: _status_of(state, "Backup") == "RUNNING", "the attempt")
    clock.advance(timedelta(hours=2))
    thread.join(60)
    (result,) = results
    assert isinstance(result, PipelineRunResult)
    statuses = {i.component_id: i.status for i in result.instances}
    assert statuses == {
        "Table": "FINISHED",
        "Cluster": "TIMEDOUT",
        "Backup": "CANCELED",
        "Folder": "CASCADE_FAILED",
    }
    assert not result.ok
    (backup,) = [i for i in result.instances if i.component_id == "Backup"]
    (attempt,) = attempts(state, result.pipeline_id, backup.instance_id)
    assert attempt.status == "CANCELED"
    assert "terminateAfter" in attempt.fields["errorMessage"]
    (folder,) = out.iterdir()
    assert not (folder / "_SUCCESS").exists()
    checkpoint = json.loads((folder / "_checkpoint.json").read_text())
    assert checkpoint["table"] == table  # stopped with its checkpoint, nothing half-written
