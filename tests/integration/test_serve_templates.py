"""The console's templates through ``ddbpipe serve`` as a real process, driven by the AWS
CLI and boto3 as the service was: create, put the template file with parameter values,
activate, ``list-runs`` until FINISHED, describe, read the definition back, deactivate,
delete. The export is the backup ``ddbpipe export`` makes; the import restores it. What
a user may activate, and what a role may do when the pipeline runs, follows their
policies."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from awscli.customizations.datapipeline import translator

from ddbpipe.backups.opener import open_backup
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.export import ExportConfig, export_table
from tests.support.api_server import UserKeys
from tests.support.compare import canonical_set
from tests.support.pipeline_server import (
    NO_RATE_LIMIT,
    PipelineServer,
    aws_cli,
    pipeline_server,
)
from tests.support.pipelines import PIPELINES
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, every_type_item, make_table, scan_all

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "server" / "fixtures"
TAG = "key=dynamodbdatapipeline,value=true"


@pytest.fixture(scope="module")
def moto_serve(
    moto_server: Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PipelineServer]:
    """One server for the module, its jobs on the session's moto (DynamoDB and S3)."""
    root = tmp_path_factory.mktemp("serve-templates")
    with pipeline_server(
        root,
        "--endpoint-url",
        moto_server.url,
        "--s3-endpoint-url",
        moto_server.url,
        "--workers",
        "1",
        *NO_RATE_LIMIT,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def operator(moto_serve: PipelineServer) -> UserKeys:
    """A user as the DynamoDB guide sets one up: Data Pipeline and DynamoDB full access,
    and the EMR inline policy."""
    return moto_serve.add_user(
        "operator",
        policy=json.loads((FIXTURES / "EMRforDynamoDBDataPipeline.json").read_text()),
        managed=["AWSDataPipeline_FullAccess", "AmazonDynamoDBFullAccess"],
    )


def items_of(folder: str, store: StoreConfig) -> list[dict[str, Any]]:
    backup = open_backup(folder, store)
    return [item for f in backup.files for _, item in backup.iter_items(f)]


def statuses(client: Any, pipeline_id: str) -> dict[str, str]:
    """Every instance's status, by component."""
    ids = client.query_objects(pipelineId=pipeline_id, sphere="INSTANCE")["ids"]
    if not ids:
        return {}
    found = client.describe_objects(pipelineId=pipeline_id, objectIds=ids)["pipelineObjects"]
    fields = [
        {f["key"]: f.get("stringValue", f.get("refValue")) for f in o["fields"]} for o in found
    ]
    return {f["@componentParent"]: f["@status"] for f in fields}


def wait_finished(server: PipelineServer, client: Any, pipeline_id: str) -> dict[str, str]:
    def done() -> dict[str, str] | None:
        found = statuses(client, pipeline_id)
        ended = found and all(s in ("FINISHED", "FAILED", "CASCADE_FAILED") for s in found.values())
        return found if ended else None

    return server.wait_for(done, message=f"{pipeline_id} to finish")  # type: ignore[no-any-return]


def same_objects(original: dict[str, Any], returned: dict[str, Any]) -> bool:
    """Whether two file-form definitions hold the same objects, as the CLI sends them."""
    return bool(
        translator.definition_to_api_objects(original)
        == translator.definition_to_api_objects(returned)
    )


def test_current_templates_through_the_aws_cli(
    moto_serve: PipelineServer, operator: UserKeys, moto_server: Endpoint, unique_name: str
) -> None:
    server, moto = moto_serve, moto_server
    source, target, bucket = f"src-{unique_name}", f"dst-{unique_name}", f"b-{unique_name}"
    make_table(moto, source, [every_type_item(n) for n in range(60)])
    make_table(moto, target, [{"pk": {"S": "other"}, "keep": {"N": "1"}}])
    moto.client("s3").create_bucket(Bucket=bucket)
    store = StoreConfig(region=moto.region, endpoint_url=moto.url)
    client = server.datapipeline(operator)
    template = PIPELINES / "export-ondemand.json"

    created = aws_cli(
        server,
        operator,
        "create-pipeline",
        "--name",
        "backup",
        "--unique-id",
        unique_name,
        "--tags",
        TAG,
    )
    pipeline_id = created["pipelineId"]
    assert pipeline_id.startswith("df-")
    again = aws_cli(
        server, operator, "create-pipeline", "--name", "backup", "--unique-id", unique_name
    )
    assert again["pipelineId"] == pipeline_id  # idempotent on the unique id
    put = aws_cli(
        server,
        operator,
        "put-pipeline-definition",
        "--pipeline-id",
        pipeline_id,
        "--pipeline-definition",
        f"file://{template}",
        "--parameter-values",
        f"myDDBTableName={source}",
        f"myOutputS3Loc=s3://{bucket}/exports",
        f"myPipelineLogUri=s3://{bucket}/logs",
    )
    assert put["errored"] is False
    aws_cli(server, operator, "activate-pipeline", "--pipeline-id", pipeline_id)

    def finished_runs() -> list[dict[str, Any]] | None:
        runs = aws_cli(server, operator, "list-runs", "--pipeline-id", pipeline_id)
        wanted = {"TableBackupActivity", "DDBSourceTable", "S3BackupLocation"}
        if {run["@componentParent"] for run in runs or []} >= wanted and all(
            run["@status"] in ("FINISHED", "FAILED", "CASCADE_FAILED") for run in runs
        ):
            return list(runs)
        return None

    runs = server.wait_for(finished_runs, message="list-runs to show the export finished")
    assert {run["@status"] for run in runs} == {"FINISHED"}
    activity = next(run for run in runs if run["@componentParent"] == "TableBackupActivity")

    described = aws_cli(
        server,
        operator,
        "describe-objects",
        "--pipeline-id",
        pipeline_id,
        "--object-ids",
        activity["@id"],
        "--evaluate-expressions",
    )
    fields = {
        f["key"]: f.get("stringValue", f.get("refValue"))
        for f in described["pipelineObjects"][0]["fields"]
    }
    assert fields["@sphere"] == "INSTANCE"
    stamp = fields["@scheduledStartTime"].replace("T", "-").replace(":", "-")
    folder = f"s3://{bucket}/exports/{stamp}"
    assert fields["step"].endswith(f",{folder},{source},0.25")  # rendered for the instance
    assert fields["emrStepLog"].startswith(f"s3://{bucket}/logs/{pipeline_id}/")

    reference = export_table(
        source,
        f"s3://{bucket}/reference",
        ExportConfig(dynamo=dynamo_config(moto), store=store, workers=1),
    )
    ours = items_of(folder, store)
    assert len(ours) == 60
    assert canonical_set(ours) == canonical_set(items_of(reference.folder, store))

    definition = aws_cli(server, operator, "get-pipeline-definition", "--pipeline-id", pipeline_id)
    assert same_objects(json.loads(template.read_text()), definition)
    assert definition["values"]["myDDBTableName"] == source
    description = client.describe_pipelines(pipelineIds=[pipeline_id])
    (pipeline,) = description["pipelineDescriptionList"]
    described_fields = {f["key"]: f["stringValue"] for f in pipeline["fields"]}
    assert described_fields["@pipelineState"] == "FINISHED"
    assert described_fields["@healthStatus"] == "HEALTHY"
    assert described_fields["pipelineCreator"].startswith("AIDA")
    assert pipeline["tags"] == [{"key": "dynamodbdatapipeline", "value": "true"}]

    imported = aws_cli(
        server,
        operator,
        "create-pipeline",
        "--name",
        "restore",
        "--unique-id",
        f"r-{unique_name}",
        "--tags",
        TAG,
    )["pipelineId"]
    put = aws_cli(
        server,
        operator,
        "put-pipeline-definition",
        "--pipeline-id",
        imported,
        "--pipeline-definition",
        f"file://{PIPELINES / 'import-ondemand.json'}",
        "--parameter-values",
        f"myDDBTableName={target}",
        f"myInputS3Loc={folder}",
        f"myPipelineLogUri=s3://{bucket}/logs",
    )
    assert put["errored"] is False
    aws_cli(server, operator, "activate-pipeline", "--pipeline-id", imported)
    assert set(wait_finished(server, client, imported).values()) == {"FINISHED"}
    restored = scan_all(moto, target)
    assert canonical_set([i for i in restored if i["pk"]["S"] != "other"]) == canonical_set(
        scan_all(moto, source)
    )
    assert len(restored) == 61

    aws_cli(server, operator, "deactivate-pipeline", "--pipeline-id", imported)
    for gone in (pipeline_id, imported):
        aws_cli(server, operator, "delete-pipeline", "--pipeline-id", gone)
    listed = aws_cli(server, operator, "list-pipelines")["pipelineIdList"]
    assert not {p["id"] for p in listed} & {pipeline_id, imported}


def test_2017_templates_with_boto3(
    moto_serve: PipelineServer, operator: UserKeys, moto_server: Endpoint, unique_name: str
) -> None:
    server, moto = moto_serve, moto_server
    source, target, bucket = f"src-{unique_name}", f"dst-{unique_name}", f"b-{unique_name}"
    make_table(moto, source, [every_type_item(n) for n in range(40)])
    make_table(moto, target, [])
    moto.client("s3").create_bucket(Bucket=bucket)
    store = StoreConfig(region=moto.region, endpoint_url=moto.url)
    client = server.datapipeline(operator)
    tags = [{"key": "dynamodbdatapipeline", "value": "true"}]

    daily = client.create_pipeline(name="daily", uniqueId=unique_name, tags=tags)["pipelineId"]
    aws_cli(
        server,
        operator,
        "put-pipeline-definition",
        "--pipeline-id",
        daily,
        "--pipeline-definition",
        f"file://{PIPELINES / 'export-2017.json'}",
        "--parameter-values",
        f"myDDBTableName={source}",
        f"myOutputS3Loc=s3://{bucket}/daily",
    )
    (state,) = client.describe_pipelines(pipelineIds=[daily])["pipelineDescriptionList"]
    assert {"key": "@pipelineState", "stringValue": "PENDING"} in state["fields"]
    components = client.query_objects(pipelineId=daily, sphere="COMPONENT")["ids"]
    assert "TableBackupActivity" in components  # from the latest definition, never activated
    client.activate_pipeline(pipelineId=daily)
    found = wait_finished(server, client, daily)
    assert found["TableBackupActivity"] == "FINISHED"
    (state,) = client.describe_pipelines(pipelineIds=[daily])["pipelineDescriptionList"]
    fields = {f["key"]: f["stringValue"] for f in state["fields"]}
    assert fields["@pipelineState"] == "SCHEDULED"  # a daily schedule goes on
    assert fields["@nextRunTime"] > fields["@lastActivationTime"]
    activity = client.query_objects(
        pipelineId=daily,
        sphere="INSTANCE",
        query={
            "selectors": [
                {
                    "fieldName": "@componentParent",
                    "operator": {"type": "REF_EQ", "values": ["TableBackupActivity"]},
                },
                {"fieldName": "@status", "operator": {"type": "EQ", "values": ["FINISHED"]}},
            ]
        },
    )["ids"]
    (instance,) = activity
    stamp = instance.split("_")[-1].replace("T", "-").replace(":", "-")
    folder = f"s3://{bucket}/daily/{stamp}"
    assert canonical_set(items_of(folder, store)) == canonical_set(scan_all(moto, source))
    client.deactivate_pipeline(pipelineId=daily, cancelActive=True)
    server.wait_for(
        lambda: (
            {"key": "@pipelineState", "stringValue": "INACTIVE"}
            in client.describe_pipelines(pipelineIds=[daily])["pipelineDescriptionList"][0][
                "fields"
            ]
        ),
        message="the deactivation",
    )

    restore = client.create_pipeline(name="restore", uniqueId=f"r-{unique_name}", tags=tags)
    imported = restore["pipelineId"]
    aws_cli(
        server,
        operator,
        "put-pipeline-definition",
        "--pipeline-id",
        imported,
        "--pipeline-definition",
        f"file://{PIPELINES / 'import-2017.json'}",
    )
    client.activate_pipeline(
        pipelineId=imported,
        parameterValues=[
            {"id": "myDDBTableName", "stringValue": target},
            {"id": "myInputS3Loc", "stringValue": folder},
        ],
    )
    assert set(wait_finished(server, client, imported).values()) == {"FINISHED"}
    assert canonical_set(scan_all(moto, target)) == canonical_set(scan_all(moto, source))
    active = client.get_pipeline_definition(pipelineId=imported, version="active")
    assert {"id": "myDDBTableName", "stringValue": target} in active["parameterValues"]
    client.delete_pipeline(pipelineId=imported)
    with pytest.raises(client.exceptions.PipelineDeletedException):
        client.describe_pipelines(pipelineIds=[imported])


# --- what users and roles may do ------------------------------------------------------------


def test_a_forum_user_exports_forum_and_is_refused_orders(
    moto_serve: PipelineServer, moto_server: Endpoint, unique_name: str
) -> None:
    server = moto_serve
    west = replace(moto_server, region="us-west-2")  # the fixture policy's tables
    tables = west.client("dynamodb")
    for table in ("Forum", "Orders"):
        with contextlib.suppress(tables.exceptions.ResourceNotFoundException):
            tables.delete_table(TableName=table)
    make_table(west, "Forum", [every_type_item(n) for n in range(20)])
    make_table(west, "Orders", [every_type_item(n) for n in range(5)])
    bucket = f"b-{unique_name}"
    moto_server.client("s3").create_bucket(Bucket=bucket)
    forum = server.add_user(
        f"forum-{unique_name}",
        policy=json.loads((FIXTURES / "ForumThreadReplyTables.json").read_text()),
        managed=["AWSDataPipeline_FullAccess"],
    )
    attached = server.ddbpipe(
        "users",
        "attach-policy",
        forum.name,
        "--policy",
        str(FIXTURES / "EMRforDynamoDBDataPipeline.json"),
    )
    assert attached.returncode == 0, attached.stderr
    client = server.datapipeline(forum)
    tags = [{"key": "dynamodbdatapipeline", "value": "true"}]

    def export_of(table: str) -> str:
        pipeline_id = client.create_pipeline(
            name=table, uniqueId=f"{table}-{unique_name}", tags=tags
        )["pipelineId"]
        put = aws_cli(
            server,
            forum,
            "put-pipeline-definition",
            "--pipeline-id",
            pipeline_id,
            "--pipeline-definition",
            f"file://{PIPELINES / 'export-ondemand.json'}",
            "--parameter-values",
            f"myDDBTableName={table}",
            "myDDBRegion=us-west-2",
            f"myOutputS3Loc=s3://{bucket}/{table}",
            f"myPipelineLogUri=s3://{bucket}/logs",
        )
        assert put["errored"] is False
        return str(pipeline_id)

    allowed = export_of("Forum")
    client.activate_pipeline(pipelineId=allowed)
    assert set(wait_finished(server, client, allowed).values()) == {"FINISHED"}
    store = StoreConfig(region=moto_server.region, endpoint_url=moto_server.url)
    listed = moto_server.client("s3").list_objects_v2(Bucket=bucket, Prefix="Forum/")
    folder = "s3://" + bucket + "/" + listed["Contents"][0]["Key"].rsplit("/", 1)[0]
    assert canonical_set(items_of(folder, store)) == canonical_set(scan_all(west, "Forum"))

    refused = export_of("Orders")
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.activate_pipeline(pipelineId=refused)
    error = caught.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == (
        f"User: arn:aws:iam::123456789012:user/{forum.name} is not authorized to perform: "
        "dynamodb:Scan on resource: arn:aws:dynamodb:us-west-2:123456789012:table/Orders"
    )
    time.sleep(1.5)  # the scheduler has had its chance
    assert client.query_objects(pipelineId=refused, sphere="INSTANCE")["ids"] == []
    assert (
        moto_server.client("s3").list_objects_v2(Bucket=bucket, Prefix="Orders/")["KeyCount"] == 0
    )


def test_a_role_without_batch_write_fails_the_import_attempt(
    moto_serve: PipelineServer, moto_server: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    server = moto_serve
    target, bucket = f"dst-{unique_name}", f"b-{unique_name}"
    make_table(moto_server, target, [])
    moto_server.client("s3").create_bucket(Bucket=bucket)
    role = f"NoWrite-{unique_name}"
    policy = tmp_path / "readonly.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["dynamodb:DescribeTable", "dynamodb:Scan", "s3:*"],
                        "Resource": "*",
                    }
                ],
            }
        )
    )
    added = server.ddbpipe("roles", "add", role, "--policy", str(policy))
    assert added.returncode == 0, added.stderr
    admin = server.add_user(
        f"admin-{unique_name}",
        policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        },
    )
    client = server.datapipeline(admin)
    document = json.loads((PIPELINES / "import-ondemand.json").read_text())
    default = next(item for item in document["objects"] if item["id"] == "Default")
    default["resourceRole"] = role
    document["values"] = {
        "myDDBTableName": target,
        "myInputS3Loc": f"s3://{bucket}/backup",
        "myPipelineLogUri": f"s3://{bucket}/logs",
    }
    pipeline_id = client.create_pipeline(name="restore", uniqueId=unique_name)["pipelineId"]
    client.put_pipeline_definition(
        pipelineId=pipeline_id,
        pipelineObjects=translator.definition_to_api_objects(document),
        parameterObjects=translator.definition_to_api_parameters(document),
        parameterValues=translator.definition_to_parameter_values(document),
    )
    client.activate_pipeline(pipelineId=pipeline_id)
    assert wait_finished(server, client, pipeline_id)["TableLoadActivity"] == "FAILED"
    (attempt_id,) = client.query_objects(pipelineId=pipeline_id, sphere="ATTEMPT")["ids"]
    (attempt,) = client.describe_objects(pipelineId=pipeline_id, objectIds=[attempt_id])[
        "pipelineObjects"
    ]
    fields = {f["key"]: f.get("stringValue") for f in attempt["fields"]}
    assert fields["errorMessage"] == (
        f"permanent error, not retried: User: arn:aws:iam::123456789012:role/{role} is not "
        "authorized to perform: dynamodb:BatchWriteItem on resource: "
        f"arn:aws:dynamodb:us-east-1:123456789012:table/{target}"
    )
    assert fields["errorId"] == "RoleAccessDeniedError"
    assert scan_all(moto_server, target) == []
