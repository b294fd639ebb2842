"""Actions and preconditions against moto: an SnsAlarm published on failure reaches an
SQS queue subscribed to its topic; S3PrefixNotEmpty and DynamoDBTableExists hold an
import until they are met, or fail it after preconditionTimeout."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ddbpipe.pipeline.definition import definition_from_file
from ddbpipe.pipeline.run import run_pipeline
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.export import ExportConfig, export_table
from tests.support.clock import SimulatedClock
from tests.support.compare import canonical_set
from tests.support.pipelines import (
    PIPELINES,
    attempts,
    connection_args,
    run_cli,
    run_instances,
    runner_config,
)
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, every_type_item, make_table, scan_all

START = datetime(2026, 3, 2, 14, 7, tzinfo=UTC)


def test_an_sns_alarm_on_failure_reaches_a_subscribed_queue(
    moto: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name=f"alarms-{unique_name}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"inbox-{unique_name}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    template = json.loads((PIPELINES / "export-ondemand.json").read_text())
    for item in template["objects"]:
        if item["id"] == "TableBackupActivity":
            item["onFail"] = {"ref": "FailureAlarm"}
    template["objects"].append(
        {
            "id": "FailureAlarm",
            "name": "FailureAlarm",
            "type": "SnsAlarm",
            "role": "DataPipelineDefaultRole",
            "topicArn": topic,
            "subject": "#{node.name} failed",
            "message": "#{node.name} of #{node.@scheduledStartTime} failed: #{node.errorMessage}",
        }
    )
    path = tmp_path / "alarmed.json"
    path.write_text(json.dumps(template))
    code, document, stderr = run_cli(
        "pipeline",
        "run",
        str(path),
        "--parameter-values",
        f"myDDBTableName=missing-{unique_name}",
        "--parameter-values",
        f"myOutputS3Loc={tmp_path / 'out'}",
        "--parameter-values",
        f"myPipelineLogUri={tmp_path / 'logs'}",
        *connection_args(moto),
        "--sns-endpoint-url",
        moto.url,
        "--state",
        str(tmp_path / "state"),
    )
    assert code == 11, stderr
    activity = run_instances(document)["TableBackupActivity"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    (message,) = messages["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "TableBackupActivity failed"
    assert envelope["Message"] == (
        f"TableBackupActivity of {activity['scheduled_start']} failed: permanent error, not "
        f"retried: table 'missing-{unique_name}' not found in region us-east-1"
    )
    assert f"onFail: FailureAlarm published to {topic}" in stderr


def import_with_preconditions(source: str, target: str) -> dict[str, Any]:
    template = json.loads((PIPELINES / "import-ondemand.json").read_text())
    for item in template["objects"]:
        if item["id"] == "S3InputDataNode":
            item["precondition"] = {"ref": "InputReady"}
        if item["id"] == "TableLoadActivity":
            item["precondition"] = {"ref": "TableReady"}
    template["objects"] += [
        {
            "id": "InputReady",
            "type": "S3PrefixNotEmpty",
            "role": "DataPipelineDefaultRole",
            "s3Prefix": "#{myInputS3Loc}",
            "preconditionTimeout": "1 hour",
        },
        {
            "id": "TableReady",
            "type": "DynamoDBTableExists",
            "role": "DataPipelineDefaultRole",
            "tableName": "#{myDDBTableName}",
        },
    ]
    template["values"] = {
        "myInputS3Loc": source,
        "myDDBTableName": target,
        "myPipelineLogUri": source.rsplit("/", 1)[0] + "/logs",
    }
    return template


def test_preconditions_hold_an_import_until_its_input_is_there(
    moto: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    bucket = f"in-{unique_name}"
    moto.client("s3").create_bucket(Bucket=bucket)
    source, target = f"src-{unique_name}", f"dst-{unique_name}"
    make_table(moto, source, [every_type_item(n) for n in range(25)])
    make_table(moto, target, [])
    store = StoreConfig(region=moto.region, endpoint_url=moto.url)
    config = runner_config(moto, moto, poll_interval=3600)

    empty = f"s3://{bucket}/nothing-yet"
    clock = SimulatedClock(START)
    result = run_pipeline(
        definition_from_file(import_with_preconditions(empty, target)),
        name="too-early",
        state_dir=tmp_path / "state",
        config=config,
        clock=clock,
    )
    found = {i.component_id: i for i in result.instances}
    assert found["S3InputDataNode"].status == "FAILED"
    assert found["S3InputDataNode"].error_message == (
        "precondition InputReady was not met within its preconditionTimeout (1 hour)"
    )
    assert found["TableLoadActivity"].status == "CASCADE_FAILED"
    assert (
        attempts(tmp_path / "state", result.pipeline_id, found["TableLoadActivity"].instance_id)
        == []
    )
    assert clock.now() >= START.replace(hour=15)  # an hour of checks, on simulated time

    backup = export_table(
        source,
        f"s3://{bucket}/exports",
        ExportConfig(dynamo=dynamo_config(moto), store=store, workers=1),
    )
    result = run_pipeline(
        definition_from_file(import_with_preconditions(backup.folder, target)),
        name="in-time",
        state_dir=tmp_path / "state",
        config=config,
        clock=SimulatedClock(START),
    )
    assert result.ok, result
    assert canonical_set(scan_all(moto, target)) == canonical_set(scan_all(moto, source))
