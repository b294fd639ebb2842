"""Definitions that move several tables: the console's export of three tables at once,
and a copy from one region to another (export in one, import in the other)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddbpipe.backups.opener import open_backup
from ddbpipe.cli import cli
from ddbpipe.errors import TableNotFoundError
from ddbpipe.pipeline.definition import load_definition
from ddbpipe.pipeline.run import run_pipeline
from ddbpipe.pipeline.runner import RunEvent
from tests.support.compare import canonical_set
from tests.support.pipelines import (
    connection_args,
    definition,
    run_cli,
    run_instances,
    runner_config,
)
from tests.support.servers import Endpoint
from tests.support.tables import client_for, every_type_item, make_table, scan_all

JAR = "s3://dynamodb-dpl-us-east-1/tools.jar,org.apache.hadoop.dynamodb.tools."
STAMP = "#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"


def test_three_tables_export_at_once_side_by_side(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    tables = [f"{name}-{unique_name}" for name in ("orders", "users", "items")]
    for count, table in enumerate(tables, start=1):
        make_table(dynalite, table, [every_type_item(n) for n in range(20 * count)])
    args = ["pipeline", "template", "export", *(w for t in tables for w in ("--table", t))]
    printed = CliRunner().invoke(cli, args)
    assert printed.exit_code == 0, printed.output
    loaded = load_definition(printed.stdout)
    out = tmp_path / "backups"
    values = {"myOutputS3Loc": str(out), "myPipelineLogUri": str(tmp_path / "logs")}
    events: list[RunEvent] = []
    result = run_pipeline(
        dataclasses.replace(loaded, parameter_values=definition([], **values).parameter_values),
        name="three",
        state_dir=tmp_path / "state",
        config=runner_config(dynalite),
        on_event=events.append,
    )
    assert result.ok, result
    running: set[str] = set()
    most = 0
    for event in events:
        if event.kind == "status" and event.sphere == "INSTANCE" and event.object_id:
            if event.status == "RUNNING" and (event.component_id or "").startswith("TableBackup"):
                running.add(event.object_id)
            else:
                running.discard(event.object_id)
            most = max(most, len(running))
    assert most == 3  # the three activities ran side by side
    for count, table in enumerate(tables, start=1):
        (folder,) = (out / table).iterdir()
        backup = open_backup(str(folder))
        items = [item for f in backup.files for _, item in backup.iter_items(f)]
        assert len(items) == 20 * count
        assert canonical_set(items) == canonical_set(scan_all(dynalite, table))
    cluster = [i for i in result.instances if i.component_id == "EmrClusterForBackup"]
    assert [c.status for c in cluster] == ["FINISHED"]  # one cluster for the three


def test_a_copy_from_one_region_to_another(
    moto: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    west = dataclasses.replace(moto, region="eu-west-1")
    source, target = f"src-{unique_name}", f"copy-{unique_name}"
    make_table(moto, source, [every_type_item(n) for n in range(45)])
    make_table(west, target, [])
    bucket = f"stage-{unique_name}"
    moto.client("s3").create_bucket(Bucket=bucket)
    objects = [
        {"id": "Default", "scheduleType": "ondemand", "failureAndRerunMode": "CASCADE"},
        {"id": "Source", "type": "DynamoDBDataNode", "tableName": source, "region": "us-east-1"},
        {
            "id": "Stage",
            "type": "S3DataNode",
            "directoryPath": f"s3://{bucket}/copy/" + STAMP,
        },
        {"id": "Target", "type": "DynamoDBDataNode", "tableName": target, "region": "eu-west-1"},
        {
            "id": "Cluster",
            "type": "EmrCluster",
            "releaseLabel": "emr-5.23.0",
            "region": "us-east-1",
        },
        {
            "id": "Export",
            "type": "EmrActivity",
            "input": {"ref": "Source"},
            "output": {"ref": "Stage"},
            "runsOn": {"ref": "Cluster"},
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}},0.5",
        },
        {
            "id": "Import",
            "type": "EmrActivity",
            "input": {"ref": "Stage"},
            "output": {"ref": "Target"},
            "runsOn": {"ref": "Cluster"},
            "step": f"{JAR}DynamoDBImport,#{{input.directoryPath}},#{{output.tableName}},0.5",
        },
    ]
    path = tmp_path / "copy.json"
    path.write_text(json.dumps({"objects": objects}))
    code, document, stderr = run_cli(
        "pipeline",
        "run",
        str(path),
        *connection_args(moto, moto),
        "--state",
        str(tmp_path / "state"),
        "--workers",
        "1",
    )
    assert code == 0, stderr
    instances = run_instances(document)
    assert instances["Import"]["status"] == "FINISHED"
    assert instances["Export"]["actual_end"] <= instances["Import"]["actual_start"]
    assert canonical_set(scan_all(west, target)) == canonical_set(scan_all(moto, source))
    # moto keeps regions apart: the copy is only in eu-west-1.
    with pytest.raises(TableNotFoundError):
        client_for(moto).call("DescribeTable", {"TableName": target}, resource=target)
    log = Path(instances["Import"]["log"]).read_text()
    assert f"import s3://{bucket}/copy/" in log
    assert "(region eu-west-1," in log
