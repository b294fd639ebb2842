"""A runner killed with SIGKILL in the middle of an export loses nothing: `ddbpipe
pipeline resume` marks the attempt interrupted, goes on from the export's checkpoint,
and every item ends up in the backup exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ddbpipe.backups.opener import open_backup
from ddbpipe.pipeline.state import StateStore
from tests.support.jobs import wait_for_parts
from tests.support.pipelines import attempts, run_cli, run_instances
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table

ITEMS = 3000
STAMP = "#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"
JAR = "s3://dynamodb-dpl-us-east-1/tools.jar,org.apache.hadoop.dynamodb.tools."


def write_definition(path: Path, table: str, out: Path) -> None:
    objects = [
        {"id": "Default", "scheduleType": "ondemand", "failureAndRerunMode": "CASCADE"},
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
            # Eight segments: each one's file is checkpointed when the segment ends.
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}},1,8",
        },
    ]
    path.write_text(json.dumps({"objects": objects}))


def start_runner(path: Path, state: Path, endpoint: Endpoint) -> subprocess.Popen[str]:
    """`ddbpipe pipeline run` of ``path``, slowly (40 RCU/s, two workers), in its own
    process."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ddbpipe",
            "pipeline",
            "run",
            str(path),
            "--state",
            str(state),
            "--endpoint-url",
            endpoint.url,
            "--region",
            endpoint.region,
            "--max-rcu",
            "40",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def exported_keys(folder: Path) -> list[str]:
    opened = open_backup(str(folder))
    return [item["pk"]["S"] for f in opened.files for _, item in opened.iter_items(f)]


def test_ctrl_c_stops_with_checkpoints_and_the_next_run_goes_on(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"stopped-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    out, state, path = tmp_path / "out", tmp_path / "state", tmp_path / "backup.json"
    write_definition(path, table, out)
    runner = start_runner(path, state, dynalite)
    folder = wait_for_parts(out, minimum=2, timeout=90)
    runner.send_signal(signal.SIGINT)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    assert "resume with: ddbpipe pipeline resume df-" in err
    assert f"--endpoint-url {dynalite.url}" in err
    assert not (folder / "_SUCCESS").exists()
    assert (folder / "_checkpoint.json").exists()
    # The same run again continues the pipeline from its checkpoint.
    code, document, stderr = run_cli(
        "pipeline",
        "run",
        str(path),
        "--state",
        str(state),
        "--endpoint-url",
        dynalite.url,
        "--region",
        dynalite.region,
    )
    assert code == 0, stderr
    backup = run_instances(document)["Backup"]
    pipeline_id = document["results"][0]["pipeline_id"]
    tries = attempts(state, pipeline_id, backup["instance_id"])
    assert [a.status for a in tries] == ["CANCELED", "FINISHED"]
    assert tries[0].fields["errorMessage"].startswith("stopped: the runner was stopped (SIGINT)")
    keys = exported_keys(folder)
    assert len(keys) == ITEMS
    assert set(keys) == {f"item-{n:05d}" for n in range(ITEMS)}


def test_sigkill_then_resume_gives_every_item_exactly_once(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"killed-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    out, state, path = tmp_path / "out", tmp_path / "state", tmp_path / "backup.json"
    write_definition(path, table, out)
    runner = start_runner(path, state, dynalite)
    try:
        folder = wait_for_parts(out, minimum=2, timeout=90)
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.communicate(timeout=30)
    assert runner.returncode == -signal.SIGKILL
    assert not (folder / "_SUCCESS").exists()
    with StateStore.in_folder(state) as store:
        (record,) = store.pipelines()
        pipeline_id = record.pipeline_id
        left = store.objects(pipeline_id, sphere="ATTEMPT")
    assert [a.status for a in left] == ["RUNNING"]  # as the killed runner left it

    # The endpoint comes from the pipeline's last run; only the pace is changed.
    code, document, stderr = run_cli(
        "pipeline", "resume", pipeline_id, "--state", str(state), "--max-rcu", "100000"
    )
    assert code == 0, stderr
    backup = run_instances(document)["Backup"]
    assert backup["status"] == "FINISHED"
    tries = attempts(state, pipeline_id, backup["instance_id"])
    assert [(a.status, a.fields.get("errorMessage")) for a in tries] == [
        ("FAILED", "interrupted: the runner stopped"),
        ("FINISHED", None),
    ]
    assert "going on from the checkpoint" in Path(tries[1].fields["emrStepLog"]).read_text()
    keys = exported_keys(folder)
    assert len(keys) == ITEMS
    assert set(keys) == {f"item-{n:05d}" for n in range(ITEMS)}
    assert (folder / "_SUCCESS").exists()
    assert not (folder / "_checkpoint.json").exists()
