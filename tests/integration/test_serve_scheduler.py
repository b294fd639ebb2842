"""The server's scheduler and remote task runners, as real processes: a scheduled
pipeline goes on across a SIGKILL of the server, and a ``workerGroup`` activity handed to
``ddbpipe worker`` survives a worker stopped with SIGTERM and one killed with SIGKILL;
every item is exported exactly once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from ddbpipe.backups.opener import open_backup
from ddbpipe.pipeline.definition import definition_from_file, definition_to_api
from tests.support.pipeline_server import (
    NO_RATE_LIMIT,
    PipelineServer,
    kill_group,
    pipeline_server,
    start_worker,
    terminate,
)
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table

pytestmark = pytest.mark.integration

ITEMS = 3000
STAMP = "#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"
JAR = "s3://dynamodb-dpl-us-east-1/tools.jar,org.apache.hadoop.dynamodb.tools."
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["datapipeline:*", "dynamodb:*", "iam:PassRole", "elasticmapreduce:*"],
            "Resource": "*",
        }
    ],
}


def put_definition(client: Any, pipeline_id: str, objects: list[dict[str, Any]]) -> None:
    document = definition_to_api(definition_from_file(json.loads(json.dumps({"objects": objects}))))
    answer = client.put_pipeline_definition(pipelineId=pipeline_id, **document)
    assert answer["errored"] is False, answer


def parts_checkpointed(out: Path) -> int:
    """Data files the export checkpoints in ``out`` record as written."""
    best = 0
    for checkpoint in out.glob("*/_checkpoint.json"):
        try:
            state = orjson.loads(checkpoint.read_bytes())
        except orjson.JSONDecodeError:
            continue
        best = max(best, sum(len(s["parts"]) for s in state["segments"].values()))
    return best


def exported_keys(folder: Path) -> list[str]:
    opened = open_backup(str(folder))
    return [item["pk"]["S"] for f in opened.files for _, item in opened.iter_items(f)]


def attempts_of(server: PipelineServer, pipeline_id: str, component: str) -> list[Any]:
    found = [a for a in server.objects(pipeline_id, "ATTEMPT") if a.component_id == component]
    return sorted(found, key=lambda a: (a.scheduled_start or "", a.attempt))


def instances_of(server: PipelineServer, pipeline_id: str, component: str) -> list[Any]:
    found = [i for i in server.objects(pipeline_id, "INSTANCE") if i.component_id == component]
    return sorted(found, key=lambda i: i.scheduled_start or "")


def test_a_scheduled_pipeline_goes_on_after_the_server_is_killed(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"sched-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    data = tmp_path / "data"
    out = data / "out"
    out.mkdir(parents=True)
    objects = [
        {
            "id": "Every15",
            "type": "Schedule",
            "period": "15 minutes",
            "startAt": "FIRST_ACTIVATION_DATE_TIME",
        },
        {
            "id": "Default",
            "scheduleType": "cron",
            "schedule": {"ref": "Every15"},
            "failureAndRerunMode": "CASCADE",
        },
        {"id": "Table", "type": "DynamoDBDataNode", "tableName": table},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": f"{out}/{STAMP}"},
        {"id": "Cluster", "type": "EmrCluster", "releaseLabel": "emr-5.23.0"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "runsOn": {"ref": "Cluster"},
            "maximumRetries": "2",
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}},1,8",
        },
    ]
    connection = ["--endpoint-url", dynalite.url, "--local-root", str(data)]
    with pipeline_server(
        tmp_path / "server", *connection, "--max-rcu", "40", "--workers", "2", *NO_RATE_LIMIT
    ) as server:
        user = server.add_user("scheduler", policy=EVERYTHING)
        client = server.datapipeline(user)
        pipeline_id = client.create_pipeline(name="every15", uniqueId=unique_name)["pipelineId"]
        put_definition(client, pipeline_id, objects)
        client.activate_pipeline(pipelineId=pipeline_id)
        server.wait_for(lambda: parts_checkpointed(out) >= 2, message="two checkpointed parts")
        server.kill()
        (left,) = attempts_of(server, pipeline_id, "Backup")
        assert left.status == "RUNNING"  # as the killed server left it
        (folder,) = [p for p in out.iterdir() if p.is_dir()]
        assert not (folder / "_SUCCESS").exists()

        server.start("--max-rcu", "100000")  # the same state; only the pace changes
        first = server.wait_for(
            lambda: [
                i for i in instances_of(server, pipeline_id, "Backup") if i.status == "FINISHED"
            ],
            message="the interrupted instance to finish",
        )
        assert len(first) == 1
        tries = attempts_of(server, pipeline_id, "Backup")
        assert [(a.status, a.fields.get("errorMessage")) for a in tries] == [
            ("FAILED", "interrupted: the runner stopped"),
            ("FINISHED", None),
        ]
        keys = exported_keys(folder)
        assert len(keys) == ITEMS
        assert set(keys) == {f"item-{n:05d}" for n in range(ITEMS)}
        assert not (folder / "_checkpoint.json").exists()

        # The schedule goes on: 15 minutes later the next instance runs.
        server.set_clock_offset(15 * 60 + 2)
        runs = server.wait_for(
            lambda: [
                i for i in instances_of(server, pipeline_id, "Backup") if i.status == "FINISHED"
            ][1:],
            message="the next scheduled instance",
        )
        assert runs[0].scheduled_start > first[0].scheduled_start
        second = [p for p in out.iterdir() if p.is_dir() and p != folder]
        assert len(second) == 1
        assert sorted(exported_keys(second[0])) == sorted(keys)


def test_worker_groups_run_on_ddbpipe_worker_and_survive_lost_workers(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"remote-{unique_name}"
    group = f"wg-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    data = tmp_path / "data"
    out = data / "out"
    out.mkdir(parents=True)
    objects = [
        {"id": "Default", "scheduleType": "ondemand"},
        {"id": "Table", "type": "DynamoDBDataNode", "tableName": table},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": f"{out}/{STAMP}"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "workerGroup": group,
            "maximumRetries": "2",
            "reportProgressTimeout": "1 minutes",
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}},1,8",
        },
    ]
    jobs = [
        "--dynamodb-endpoint-url",
        dynalite.url,
        "--workers",
        "2",
        "--state",
        str(tmp_path / "worker-state"),
    ]
    quick = ["--poll-wait", "2"]  # a stopped worker waits for its poll under way
    with pipeline_server(
        tmp_path / "server", "--local-root", str(data), *quick, *NO_RATE_LIMIT
    ) as server:
        user = server.add_user("taskrunner", policy=EVERYTHING)
        client = server.datapipeline(user)
        pipeline_id = client.create_pipeline(name="remote", uniqueId=unique_name)["pipelineId"]
        put_definition(client, pipeline_id, objects)
        client.activate_pipeline(pipelineId=pipeline_id)
        time.sleep(1.5)  # the server's scheduler does not run it: it waits for a worker
        (waiting,) = instances_of(server, pipeline_id, "Backup")
        assert waiting.status == "WAITING_FOR_RUNNER"
        assert not attempts_of(server, pipeline_id, "Backup")

        log = tmp_path / "workers.log"
        slow = [*jobs, "--max-rcu", "40"]
        first = start_worker(server, user, group, *slow, log=log)
        try:
            server.wait_for(lambda: parts_checkpointed(out) >= 2, message="worker 1's parts")
        finally:
            status = terminate(first)
        assert status == 128 + signal.SIGTERM, log.read_text()
        (stopped,) = attempts_of(server, pipeline_id, "Backup")
        assert stopped.status == "CANCELED"
        assert "was stopped" in stopped.fields["errorMessage"]
        (instance,) = instances_of(server, pipeline_id, "Backup")
        assert (instance.status, instance.retries) == ("WAITING_FOR_RUNNER", 0)

        second = start_worker(server, user, group, *jobs, "--max-rcu", "5", log=log)
        try:
            server.wait_for(
                lambda: (
                    len(attempts_of(server, pipeline_id, "Backup")) == 2
                    and attempts_of(server, pipeline_id, "Backup")[1].fields.get("emrStepLog")
                ),
                message="worker 2 to report",
            )
        finally:
            kill_group(second)
        assert attempts_of(server, pipeline_id, "Backup")[1].status == "RUNNING"
        server.set_clock_offset(90)  # past the reportProgressTimeout of 1 minute

        third = start_worker(server, user, group, *jobs, log=log)
        try:
            done = server.wait_for(
                lambda: [
                    i for i in instances_of(server, pipeline_id, "Backup") if i.status == "FINISHED"
                ],
                message="worker 3 to finish the export",
            )
        finally:
            terminate(third)
        assert done[0].retries == 1  # the lost worker counted as a retry
        tries = attempts_of(server, pipeline_id, "Backup")
        assert [a.status for a in tries] == ["CANCELED", "FAILED", "FINISHED"]
        assert tries[1].fields["errorId"] == "TaskRunnerLost"
        assert len({a.fields["hostname"] for a in tries}) == 1
        (folder,) = [p for p in out.iterdir() if p.is_dir()]
        keys = exported_keys(folder)
        assert len(keys) == ITEMS
        assert set(keys) == {f"item-{n:05d}" for n in range(ITEMS)}
        assert (folder / "_SUCCESS").exists()
        logged = [a.fields["emrStepLog"] for a in tries if "emrStepLog" in a.fields]
        assert any("going on from the checkpoint" in Path(p).read_text() for p in logged)


def test_sigterm_checkpoints_the_running_attempt_and_a_restart_goes_on(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"term-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    data = tmp_path / "data"
    out = data / "out"
    out.mkdir(parents=True)
    objects = [
        {"id": "Default", "scheduleType": "ondemand"},
        {"id": "Table", "type": "DynamoDBDataNode", "tableName": table},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": f"{out}/{STAMP}"},
        {"id": "Cluster", "type": "EmrCluster"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "runsOn": {"ref": "Cluster"},
            "maximumRetries": "0",
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}},1,8",
        },
    ]
    connection = ["--endpoint-url", dynalite.url, "--local-root", str(data), *NO_RATE_LIMIT]
    with pipeline_server(tmp_path / "server", *connection, "--max-rcu", "40") as server:
        user = server.add_user("terminated", policy=EVERYTHING)
        client = server.datapipeline(user)
        pipeline_id = client.create_pipeline(name="term", uniqueId=unique_name)["pipelineId"]
        put_definition(client, pipeline_id, objects)
        client.activate_pipeline(pipelineId=pipeline_id)
        server.wait_for(lambda: parts_checkpointed(out) >= 2, message="two checkpointed parts")
        process = server.process.process
        assert process is not None
        assert terminate(process) in (0, -signal.SIGTERM)  # type: ignore[arg-type]
        server.process.process = None
        (stopped,) = attempts_of(server, pipeline_id, "Backup")
        assert stopped.status == "CANCELED"
        assert stopped.fields["errorMessage"].startswith(
            "stopped: the runner was stopped (the server stopped)"
        )
        (instance,) = instances_of(server, pipeline_id, "Backup")
        assert (instance.status, instance.retries) == ("WAITING_FOR_RUNNER", 0)
        (folder,) = [p for p in out.iterdir() if p.is_dir()]
        assert (folder / "_checkpoint.json").exists()

        server.start("--max-rcu", "100000")
        server.wait_for(
            lambda: instances_of(server, pipeline_id, "Backup")[0].status == "FINISHED",
            message="the export to finish after the restart",
        )
        tries = attempts_of(server, pipeline_id, "Backup")
        assert [a.status for a in tries] == ["CANCELED", "FINISHED"]  # no retry was used
        keys = exported_keys(folder)
        assert len(keys) == ITEMS
        assert set(keys) == {f"item-{n:05d}" for n in range(ITEMS)}
