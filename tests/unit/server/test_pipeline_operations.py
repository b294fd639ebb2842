"""The 19 operations over the real pipeline engine, in process (no scheduler runs): shapes,
limits, pages, errors, condition keys, and what activation and SetStatus RERUN check."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from ddbpipe.pipeline.definition import definition_from_file, definition_to_api
from ddbpipe.server.access_keys import AccessKey, new_access_key
from ddbpipe.server.app import create_app
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.pipeline_service import PipelineService
from ddbpipe.server.rate_limits import parse_rate_limits
from ddbpipe.server.shapes import operation_names

REGION = "us-west-2"
ACCOUNT = "123456789012"
URL = "http://testserver/"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PIPELINES = Path(__file__).resolve().parents[2] / "data" / "pipelines"
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


class Server:
    def __init__(self, tmp_path: Path, local_root: Path | None = None) -> None:
        state = tmp_path / "state"
        self.store = IdentityStore(state, account_id=ACCOUNT)
        self.config = ServerConfig(
            state_dir=state,
            region=REGION,
            local_root=local_root,
            rate_limits=parse_rate_limits(["off"], operation_names()),
        )
        self.service = PipelineService(self.config, self.store)
        self.app = create_app(self.config, self.store, self.service.operations())
        self.client = TestClient(self.app, base_url="http://testserver")

    def close(self) -> None:
        self.service.state.close()
        self.store.close()

    def user(
        self,
        name: str,
        *policies: Mapping[str, Any],
        managed: tuple[str, ...] = (),
    ) -> AccessKey:
        key = new_access_key()
        documents = {f"p{n}": json.dumps(policy) for n, policy in enumerate(policies)}
        self.store.add_user(name, access_key=key, policies=documents, managed=managed)
        return key

    def call(self, key: AccessKey, operation: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"DataPipeline.{operation}",
        }
        request = AWSRequest(method="POST", url=URL, data=data, headers=headers)
        SigV4Auth(
            Credentials(key.access_key_id, key.secret_access_key), "datapipeline", REGION
        ).add_auth(request)
        response = self.client.post("/", content=data, headers=dict(request.headers.items()))
        return response.status_code, response.json()

    def ok(self, key: AccessKey, operation: str, body: Mapping[str, Any] | None = None) -> Any:
        status, answer = self.call(key, operation, body)
        assert status == 200, answer
        return answer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    made = Server(tmp_path, local_root=tmp_path)
    yield made
    made.close()


def code_of(result: tuple[int, dict[str, Any]]) -> str:
    return str(result[1]["__type"]).rsplit("#", 1)[1]


def api_form(objects: list[dict[str, Any]], **values: str) -> dict[str, Any]:
    document: dict[str, Any] = {"objects": objects}
    if values:
        document["values"] = values
    return definition_to_api(definition_from_file(json.loads(json.dumps(document))))


def template(name: str, **values: str) -> dict[str, Any]:
    document = json.loads((PIPELINES / f"{name}.json").read_text())
    document["values"] = values
    return definition_to_api(definition_from_file(document))


def fields_of(entry: Mapping[str, Any]) -> dict[str, str]:
    return {f["key"]: f.get("stringValue", f.get("refValue")) for f in entry["fields"]}


def ondemand(
    table: str = "Orders", directory: str = "s3://bucket/out", **extra: str
) -> list[dict[str, Any]]:
    return [
        {"id": "Default", "scheduleType": "ondemand", **extra},
        {"id": "Table", "type": "DynamoDBDataNode", "tableName": table, "region": REGION},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": directory},
        {"id": "Cluster", "type": "EmrCluster", "releaseLabel": "emr-5.23.0"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "runsOn": {"ref": "Cluster"},
            "step": "s3://x/tools.jar,org.apache.hadoop.dynamodb.tools.DynamoDBExport,"
            "#{output.directoryPath},#{input.tableName}",
        },
    ]


def new_pipeline(server: Server, key: AccessKey, name: str = "p", **extra: Any) -> str:
    return str(
        server.ok(key, "CreatePipeline", {"name": name, "uniqueId": name, **extra})["pipelineId"]
    )


# --- pipelines ----------------------------------------------------------------------------


def test_create_is_idempotent_per_creator_and_describe_fills_the_service_fields(
    server: Server,
) -> None:
    alice, bob = server.user("alice", EVERYTHING), server.user("bob", EVERYTHING)
    tags = [{"key": "env", "value": "test"}]
    first = new_pipeline(server, alice, "nightly", tags=tags, description="d")
    assert new_pipeline(server, alice, "nightly") == first
    assert new_pipeline(server, bob, "nightly") != first
    (described,) = server.ok(alice, "DescribePipelines", {"pipelineIds": [first]})[
        "pipelineDescriptionList"
    ]
    fields = fields_of(described)
    alice_id = server.store.get("user", "alice").unique_id
    assert fields["@pipelineState"] == "PENDING"
    assert fields["@sphere"] == "PIPELINE"
    assert fields["@id"] == first
    assert fields["uniqueId"] == "nightly"
    assert fields["pipelineCreator"] == fields["@userId"] == alice_id
    assert fields["@accountId"] == ACCOUNT
    assert len(fields["@creationTime"]) == 19
    assert fields["@creationTime"][10] == "T"
    assert described["tags"] == tags
    assert described["description"] == "d"


def test_tags_keep_their_limits(server: Server) -> None:
    alice = server.user("alice", EVERYTHING)
    eleven = [{"key": f"k{n}", "value": "v"} for n in range(11)]
    status, answer = server.call(
        alice, "CreatePipeline", {"name": "a", "uniqueId": "a", "tags": eleven}
    )
    assert (status, code_of((status, answer))) == (400, "InvalidRequestException")
    pipeline_id = new_pipeline(server, alice, tags=eleven[:9])
    server.ok(
        alice, "AddTags", {"pipelineId": pipeline_id, "tags": [{"key": "k0", "value": "new"}]}
    )
    refused = server.call(alice, "AddTags", {"pipelineId": pipeline_id, "tags": eleven[9:]})
    assert code_of(refused) == "InvalidRequestException"
    assert "at most 10 tags" in refused[1]["message"]
    server.ok(alice, "RemoveTags", {"pipelineId": pipeline_id, "tagKeys": ["k1", "k2"]})
    (described,) = server.ok(alice, "DescribePipelines", {"pipelineIds": [pipeline_id]})[
        "pipelineDescriptionList"
    ]
    tags = {t["key"]: t["value"] for t in described["tags"]}
    assert tags["k0"] == "new"
    assert "k1" not in tags
    assert len(tags) == 7


def test_tag_conditions_decide_who_sees_and_changes_a_pipeline(server: Server) -> None:
    owner = server.user("owner", EVERYTHING)
    reader = server.user(
        "reader",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "datapipeline:ListPipelines", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["datapipeline:Describe*", "datapipeline:QueryObjects"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"datapipeline:Tag/env": "test"}},
                },
                {
                    "Effect": "Allow",
                    "Action": "datapipeline:AddTags",
                    "Resource": "*",
                    "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
                },
            ],
        },
    )
    test = new_pipeline(server, owner, "t", tags=[{"key": "env", "value": "test"}])
    prod = new_pipeline(server, owner, "p", tags=[{"key": "env", "value": "production"}])
    listed = server.ok(reader, "ListPipelines")["pipelineIdList"]
    assert [p["id"] for p in listed] == [test]
    refused = server.call(reader, "DescribePipelines", {"pipelineIds": [test, prod]})
    assert (refused[0], code_of(refused)) == (400, "AccessDeniedException")
    assert (
        "user/reader is not authorized to perform: datapipeline:DescribePipelines"
        in refused[1]["message"]
    )
    server.ok(reader, "AddTags", {"pipelineId": test, "tags": [{"key": "team", "value": "a"}]})
    denied = server.call(
        reader, "AddTags", {"pipelineId": test, "tags": [{"key": "env", "value": "x"}]}
    )
    assert code_of(denied) == "AccessDeniedException"


def test_list_pipelines_pages_with_a_marker(server: Server) -> None:
    alice = server.user("alice", EVERYTHING)
    made = {new_pipeline(server, alice, f"p{n:03d}") for n in range(130)}
    first = server.ok(alice, "ListPipelines")
    assert first["hasMoreResults"] is True
    assert len(first["pipelineIdList"]) == 100
    second = server.ok(alice, "ListPipelines", {"marker": first["marker"]})
    assert second["hasMoreResults"] is False
    assert "marker" not in second
    seen = [p["id"] for p in first["pipelineIdList"] + second["pipelineIdList"]]
    assert sorted(seen) == sorted(made)


def test_unknown_deleted_and_too_many_pipelines(server: Server) -> None:
    alice = server.user("alice", EVERYTHING)
    pipeline_id = new_pipeline(server, alice)
    missing = server.call(alice, "DescribePipelines", {"pipelineIds": ["df-NOPE"]})
    assert (missing[0], code_of(missing)) == (400, "PipelineNotFoundException")
    server.ok(alice, "DeletePipeline", {"pipelineId": pipeline_id})
    gone = server.call(alice, "GetPipelineDefinition", {"pipelineId": pipeline_id})
    assert code_of(gone) == "PipelineDeletedException"
    many = server.call(alice, "DescribePipelines", {"pipelineIds": [f"df-{n}" for n in range(26)]})
    assert code_of(many) == "InvalidRequestException"
    assert "at most 25" in many[1]["message"]


# --- definitions ----------------------------------------------------------------------------


def test_put_validate_and_get_definitions(server: Server) -> None:
    alice = server.user("alice", EVERYTHING)
    pipeline_id = new_pipeline(server, alice)
    empty = server.ok(alice, "GetPipelineDefinition", {"pipelineId": pipeline_id})
    assert empty == {"pipelineObjects": []}
    document = template(
        "export-ondemand",
        myDDBTableName="Orders",
        myOutputS3Loc="s3://b/o",
        myPipelineLogUri="s3://b/logs",
    )
    answer = server.ok(alice, "PutPipelineDefinition", {"pipelineId": pipeline_id, **document})
    assert answer == {"errored": False}
    got = server.ok(alice, "GetPipelineDefinition", {"pipelineId": pipeline_id})
    assert got["pipelineObjects"] == document["pipelineObjects"]
    assert got["parameterValues"] == document["parameterValues"]
    active = server.ok(
        alice, "GetPipelineDefinition", {"pipelineId": pipeline_id, "version": "active"}
    )
    assert active == {"pipelineObjects": []}

    bad = api_form(
        [{"id": "Default", "scheduleType": "ondemand"}, {"id": "Node", "type": "S3DataNode"}]
    )
    answer = server.ok(alice, "ValidatePipelineDefinition", {"pipelineId": pipeline_id, **bad})
    assert answer["errored"] is True
    assert answer["validationErrors"][0]["id"] == "Node"
    saved = server.ok(alice, "PutPipelineDefinition", {"pipelineId": pipeline_id, **bad})
    assert saved["errored"] is True  # saved, but it cannot be activated

    fatal = {
        "pipelineObjects": [
            {
                "id": "Default",
                "name": "Default",
                "fields": [{"key": "workerGroup", "stringValue": ""}],
            }
        ]
    }
    status, refused = server.call(
        alice, "PutPipelineDefinition", {"pipelineId": pipeline_id, **fatal}
    )
    assert (status, code_of((status, refused))) == (400, "InvalidRequestException")
    assert refused["message"].startswith(
        "Pipeline definition has errors: Could not save the pipeline definition due to FATAL errors"
    )
    assert refused["message"].endswith("Please call Validate to validate your pipeline")
    kept = server.ok(alice, "GetPipelineDefinition", {"pipelineId": pipeline_id})
    assert kept["pipelineObjects"] == bad["pipelineObjects"]  # nothing was saved


def test_local_paths_outside_the_local_root_are_refused(server: Server, tmp_path: Path) -> None:
    alice = server.user("alice", EVERYTHING)
    pipeline_id = new_pipeline(server, alice)
    inside = api_form(ondemand(directory=f"{tmp_path}/exports/#{{@scheduledStartTime}}"))
    assert server.ok(alice, "PutPipelineDefinition", {"pipelineId": pipeline_id, **inside}) == {
        "errored": False
    }
    for outside in (
        "/etc/exports",
        f"{tmp_path}/../elsewhere/#{{@scheduledStartTime}}",
        "file:///var/tmp/x",
    ):
        refused = server.call(
            alice,
            "PutPipelineDefinition",
            {"pipelineId": pipeline_id, **api_form(ondemand(directory=outside))},
        )
        assert code_of(refused) == "InvalidRequestException", outside
        assert (
            "is not allowed: local paths must lie inside the server's local root"
            in refused[1]["message"]
        )
    logs = api_form(ondemand(pipelineLogUri="/var/log/pipelines"))
    refused = server.call(alice, "PutPipelineDefinition", {"pipelineId": pipeline_id, **logs})
    assert "'pipelineLogUri'" in refused[1]["message"]
    checked = server.ok(
        alice,
        "ValidatePipelineDefinition",
        {"pipelineId": pipeline_id, **api_form(ondemand(directory="/etc/x"))},
    )
    assert checked["errored"] is True
    # A parameter given only at activation is checked then.
    later = api_form(ondemand(directory="#{myOut}"))
    later["parameterObjects"] = [
        {"id": "myOut", "attributes": [{"key": "type", "stringValue": "String"}]}
    ]
    assert (
        server.ok(alice, "PutPipelineDefinition", {"pipelineId": pipeline_id, **later})["errored"]
        is True
    )
    refused = server.call(
        alice,
        "ActivatePipeline",
        {
            "pipelineId": pipeline_id,
            "parameterValues": [{"id": "myOut", "stringValue": "/etc/out"}],
        },
    )
    assert code_of(refused) == "InvalidRequestException"
    assert "local root" in refused[1]["message"]


# --- activation -----------------------------------------------------------------------------


def forum_user(server: Server) -> AccessKey:
    """The DynamoDB guide's user limited to the Forum, Thread and Reply tables."""
    return server.user(
        "forum",
        json.loads((FIXTURES / "ForumThreadReplyTables.json").read_text()),
        json.loads((FIXTURES / "EMRforDynamoDBDataPipeline.json").read_text()),
        managed=("AWSDataPipeline_FullAccess",),
    )


TAGGED = [{"key": "dynamodbdatapipeline", "value": "true"}]


def activate(server: Server, key: AccessKey, objects: list[dict[str, Any]], **create: Any) -> Any:
    pipeline_id = new_pipeline(server, key, uuid.uuid4().hex, **create)
    server.ok(key, "PutPipelineDefinition", {"pipelineId": pipeline_id, **api_form(objects)})
    return pipeline_id, server.call(key, "ActivatePipeline", {"pipelineId": pipeline_id})


def test_forum_user_activates_an_export_of_forum_and_not_of_orders(server: Server) -> None:
    forum = forum_user(server)
    pipeline_id, result = activate(server, forum, ondemand("Forum"), tags=TAGGED)
    assert result == (200, {})
    assert server.service.engine.instances(pipeline_id)  # activated: it will run

    pipeline_id, refused = activate(server, forum, ondemand("Orders"), tags=TAGGED)
    assert (refused[0], code_of(refused)) == (400, "AccessDeniedException")
    assert refused[1]["message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/forum is not authorized to perform: dynamodb:Scan "
        f"on resource: arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders"
    )
    assert server.service.engine.instances(pipeline_id) == []  # nothing runs
    fields = fields_of(
        server.ok(forum, "DescribePipelines", {"pipelineIds": [pipeline_id]})[
            "pipelineDescriptionList"
        ][0]
    )
    assert fields["@pipelineState"] == "PENDING"


def test_the_emr_policy_wants_the_dynamodbdatapipeline_tag(server: Server) -> None:
    forum = forum_user(server)
    _, refused = activate(server, forum, ondemand("Forum"))
    assert code_of(refused) == "AccessDeniedException"
    assert "elasticmapreduce:RunJobFlow on resource: *" in refused[1]["message"]
    _, accepted = activate(server, forum, ondemand("Forum"), tags=TAGGED)
    assert accepted == (200, {})


def test_explicit_deny_beats_allow(server: Server) -> None:
    key = server.user(
        "denied",
        EVERYTHING,
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": "dynamodb:Scan",
                    "Resource": "arn:aws:dynamodb:*:*:table/Secret*",
                }
            ],
        },
    )
    _, refused = activate(server, key, ondemand("SecretOrders"))
    assert code_of(refused) == "AccessDeniedException"
    assert refused[1]["message"].endswith(
        "dynamodb:Scan on resource: arn:aws:dynamodb:us-west-2:123456789012:table/SecretOrders "
        "with an explicit deny in an identity-based policy"
    )
    _, accepted = activate(server, key, ondemand("Orders"))
    assert accepted == (200, {})


def test_pass_role_is_needed_for_each_role_and_the_role_must_exist(server: Server) -> None:
    no_pass = server.user(
        "nopass",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["datapipeline:*", "dynamodb:*", "elasticmapreduce:*"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": f"arn:aws:iam::{ACCOUNT}:role/DataPipelineDefaultRole",
                },
            ],
        },
    )
    _, refused = activate(server, no_pass, ondemand("Orders"))
    assert code_of(refused) == "AccessDeniedException"
    assert refused[1]["message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/nopass is not authorized to perform: iam:PassRole "
        f"on resource: arn:aws:iam::{ACCOUNT}:role/DataPipelineDefaultResourceRole"
    )
    admin = server.user("admin", EVERYTHING)
    _, missing = activate(server, admin, ondemand("Orders", resourceRole="NoSuchRole"))
    assert code_of(missing) == "InvalidRequestException"
    assert "Role 'NoSuchRole' does not exist" in missing[1]["message"]


def test_rerun_is_authorised_as_an_activation(server: Server) -> None:
    admin = server.user("admin", EVERYTHING)
    pipeline_id, result = activate(server, admin, ondemand("Orders"))
    assert result == (200, {})
    instance = next(
        i.object_id
        for i in server.service.engine.instances(pipeline_id)
        if i.component_id == "Backup"
    )
    server.store.attach_policies(
        "user",
        "admin",
        policies={
            "deny": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}],
                }
            )
        },
    )
    refused = server.call(
        admin, "SetStatus", {"pipelineId": pipeline_id, "objectIds": [instance], "status": "RERUN"}
    )
    assert code_of(refused) == "AccessDeniedException"
    assert "iam:PassRole" in refused[1]["message"]
    server.ok(
        admin,
        "SetStatus",
        {"pipelineId": pipeline_id, "objectIds": [instance], "status": "MARK_FINISHED"},
    )
    marked = server.ok(
        admin, "DescribeObjects", {"pipelineId": pipeline_id, "objectIds": [instance]}
    )
    assert fields_of(marked["pipelineObjects"][0])["@status"] == "MARK_FINISHED"


# --- objects ----------------------------------------------------------------------------


def test_query_describe_and_evaluate_objects(server: Server) -> None:
    admin = server.user("admin", EVERYTHING)
    pipeline_id = new_pipeline(server, admin)
    document = api_form(
        ondemand("Orders", directory="s3://b/#{format(@scheduledStartTime, 'YYYY')}")
    )
    server.ok(admin, "PutPipelineDefinition", {"pipelineId": pipeline_id, **document})
    components = server.ok(
        admin, "QueryObjects", {"pipelineId": pipeline_id, "sphere": "COMPONENT"}
    )
    assert sorted(components["ids"]) == ["Backup", "Cluster", "Default", "Folder", "Table"]
    drafts = server.ok(
        admin,
        "DescribeObjects",
        {"pipelineId": pipeline_id, "objectIds": ["Table"], "evaluateExpressions": True},
    )
    assert fields_of(drafts["pipelineObjects"][0])["@status"] == "PENDING"

    server.ok(admin, "ActivatePipeline", {"pipelineId": pipeline_id})
    instances = server.ok(
        admin, "QueryObjects", {"pipelineId": pipeline_id, "sphere": "INSTANCE", "limit": 2}
    )
    assert len(instances["ids"]) == 2
    assert instances["hasMoreResults"] is True
    rest = server.ok(
        admin,
        "QueryObjects",
        {"pipelineId": pipeline_id, "sphere": "INSTANCE", "marker": instances["marker"]},
    )
    every = instances["ids"] + rest["ids"]
    assert len(every) == 4  # Table, Folder, Cluster, Backup
    start = every[0].rsplit("_", 1)[1]
    selectors = {
        "EQ": {
            "fieldName": "@status",
            "operator": {"type": "EQ", "values": ["WAITING_ON_DEPENDENCIES", "WAITING_FOR_RUNNER"]},
        },
        "REF_EQ": {
            "fieldName": "@componentParent",
            "operator": {"type": "REF_EQ", "values": ["Backup"]},
        },
        "LE": {"fieldName": "@scheduledStartTime", "operator": {"type": "LE", "values": [start]}},
        "GE": {
            "fieldName": "@scheduledStartTime",
            "operator": {"type": "GE", "values": ["2999-01-01T00:00:00"]},
        },
        "BETWEEN": {
            "fieldName": "@scheduledStartTime",
            "operator": {"type": "BETWEEN", "values": [start, start]},
        },
    }
    found = {
        name: server.ok(
            admin,
            "QueryObjects",
            {"pipelineId": pipeline_id, "sphere": "INSTANCE", "query": {"selectors": [selector]}},
        )["ids"]
        for name, selector in selectors.items()
    }
    assert found["REF_EQ"] == [f"@Backup_{start}"]
    assert len(found["LE"]) == len(found["BETWEEN"]) == 4
    assert found["GE"] == []
    assert f"@Backup_{start}" in found["EQ"]
    wrong = server.call(
        admin,
        "QueryObjects",
        {
            "pipelineId": pipeline_id,
            "sphere": "INSTANCE",
            "query": {
                "selectors": [{"fieldName": "name", "operator": {"type": "LE", "values": ["x"]}}]
            },
        },
    )
    assert code_of(wrong) == "InvalidRequestException"

    described = server.ok(
        admin,
        "DescribeObjects",
        {"pipelineId": pipeline_id, "objectIds": [f"@Folder_{start}"], "evaluateExpressions": True},
    )
    assert fields_of(described["pipelineObjects"][0])["directoryPath"] == f"s3://b/{start[:4]}"
    evaluated = server.ok(
        admin,
        "EvaluateExpression",
        {
            "pipelineId": pipeline_id,
            "objectId": f"@Backup_{start}",
            "expression": "#{input.tableName} at #{@scheduledStartTime}",
        },
    )
    assert evaluated == {"evaluatedExpression": f"Orders at {start}"}


def test_describe_objects_takes_a_hundred_ids_and_pages_beyond(server: Server) -> None:
    admin = server.user("admin", EVERYTHING)
    pipeline_id = new_pipeline(server, admin)
    objects = [{"id": "Default", "scheduleType": "ondemand"}] + [
        {"id": f"Node{n:03d}", "type": "S3DataNode", "directoryPath": f"s3://b/{n}"}
        for n in range(99)
    ]
    server.ok(admin, "PutPipelineDefinition", {"pipelineId": pipeline_id, **api_form(objects)})
    ids = [item["id"] for item in objects]
    hundred = server.ok(admin, "DescribeObjects", {"pipelineId": pipeline_id, "objectIds": ids})
    assert len(hundred["pipelineObjects"]) == 100
    assert hundred["hasMoreResults"] is False
    more = server.ok(
        admin, "DescribeObjects", {"pipelineId": pipeline_id, "objectIds": [*ids, "Node000x"]}
    )
    assert more["hasMoreResults"] is True
    tail = server.ok(
        admin,
        "DescribeObjects",
        {"pipelineId": pipeline_id, "objectIds": [*ids, "Node000x"], "marker": more["marker"]},
    )
    assert tail["pipelineObjects"] == []  # an unknown id is left out


# --- tasks ----------------------------------------------------------------------------------


def test_task_operations_answer_for_unknown_tasks_and_heartbeats(server: Server) -> None:
    worker = server.user("worker", EVERYTHING)
    assert server.ok(
        worker,
        "ReportTaskRunnerHeartbeat",
        {"taskrunnerId": "r1", "workerGroup": "g", "hostname": "h"},
    ) == {"terminate": False}
    missing = server.call(worker, "ReportTaskProgress", {"taskId": "bm8tYS10YXNr"})
    assert (missing[0], code_of(missing)) == (400, "TaskNotFoundException")
    refused = server.call(worker, "SetTaskStatus", {"taskId": "x", "taskStatus": "FALSE"})
    assert code_of(refused) in ("TaskNotFoundException", "InvalidRequestException")


def test_a_policy_can_name_one_pipeline_by_its_arn(server: Server) -> None:
    admin = server.user("admin", EVERYTHING)
    mine = server.ok(admin, "CreatePipeline", {"name": "mine", "uniqueId": "m"})["pipelineId"]
    other = server.ok(admin, "CreatePipeline", {"name": "other", "uniqueId": "o"})["pipelineId"]
    arn = f"arn:aws:datapipeline:{REGION}:{ACCOUNT}:pipeline/{mine}"
    key = server.user(
        "one-pipeline",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "datapipeline:ListPipelines", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["datapipeline:Describe*", "datapipeline:AddTags"],
                    "Resource": arn,
                },
            ],
        },
    )
    described = server.ok(key, "DescribePipelines", {"pipelineIds": [mine]})
    assert [p["pipelineId"] for p in described["pipelineDescriptionList"]] == [mine]
    listed = server.ok(key, "ListPipelines")["pipelineIdList"]
    assert [p["id"] for p in listed] == [mine]  # the other is not even listed
    refused = server.call(key, "DescribePipelines", {"pipelineIds": [other]})
    assert code_of(refused) == "AccessDeniedException"
    assert refused[1]["message"].endswith(
        f"datapipeline:DescribePipelines on resource: "
        f"arn:aws:datapipeline:{REGION}:{ACCOUNT}:pipeline/{other}"
    )
    tag = {"pipelineId": mine, "tags": [{"key": "team", "value": "data"}]}
    assert server.call(key, "AddTags", tag) == (200, {})
    assert code_of(server.call(key, "DeletePipeline", {"pipelineId": mine})) == (
        "AccessDeniedException"
    )
    # Wildcards in the ARN work as in IAM.
    wild = server.user(
        "every-pipeline",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "datapipeline:DescribePipelines",
                    "Resource": "arn:aws:datapipeline:*:*:pipeline/*",
                }
            ],
        },
    )
    both = server.ok(wild, "DescribePipelines", {"pipelineIds": [mine, other]})
    assert len(both["pipelineDescriptionList"]) == 2
