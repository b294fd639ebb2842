"""The ASGI app in process: how operations plug in, how handlers authorise with their
own condition keys, and how every failure is rendered."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from ddbpipe.errors import ConfigError, NotFoundError
from ddbpipe.server.access_keys import AccessKey, new_access_key
from ddbpipe.server.app import create_app
from ddbpipe.server.authorization import AuthorizationKeys, pipeline_arn
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import Call, Operation, OperationTable

REGION = "eu-central-1"
URL = "http://testserver/"

OWNER_OR_TEST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "datapipeline:ListPipelines", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "datapipeline:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"datapipeline:PipelineCreator": "${aws:userid}"}},
        },
        {
            "Effect": "Allow",
            "Action": "datapipeline:Describe*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/env": "test"}},
        },
        {
            "Effect": "Allow",
            "Action": "datapipeline:CreatePipeline",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        },
        {
            "Effect": "Allow",
            "Action": "datapipeline:PollForTask",
            "Resource": "*",
            "Condition": {"StringLike": {"datapipeline:workerGroup": "dev-*"}},
        },
        {"Effect": "Deny", "Action": "sts:GetSessionToken", "Resource": "*"},
    ],
}


def _arn(pipeline_id: str) -> str:
    return pipeline_arn(REGION, "123456789012", pipeline_id)  # the demonstration's account


class Pipelines:
    """Demonstration handlers over a dict of pipelines: id -> (creator, tags)."""

    def __init__(self) -> None:
        self.pipelines: dict[str, tuple[str, dict[str, str]]] = {}
        self.calls: list[Call] = []

    def keys(self, call: Call) -> list[AuthorizationKeys]:
        found = []
        for pipeline_id in call.input.get("pipelineIds", [call.input.get("pipelineId")]):
            if pipeline_id not in self.pipelines:
                raise ApiError(ErrorCode.PIPELINE_NOT_FOUND, f"Pipeline {pipeline_id} not found")
            creator, tags = self.pipelines[pipeline_id]
            found.append(AuthorizationKeys.for_pipeline(_arn(pipeline_id), creator, tags))
        return found

    def create(self, call: Call) -> dict[str, Any]:
        self.calls.append(call)
        pipeline_id = f"df-{len(self.pipelines):019d}"
        tags = {tag["key"]: tag["value"] for tag in call.input.get("tags", [])}
        self.pipelines[pipeline_id] = (call.caller.user_id, tags)
        return {"pipelineId": pipeline_id}

    def create_keys(self, call: Call) -> list[AuthorizationKeys]:
        tags = {tag["key"]: tag["value"] for tag in call.input.get("tags", [])}
        return [AuthorizationKeys(request_tags=tags, pipeline_tags=tags)]

    def listing(self, call: Call) -> dict[str, Any]:
        visible = [
            {"id": pid, "name": pid}
            for pid, (creator, tags) in self.pipelines.items()
            if call.is_allowed(
                AuthorizationKeys.for_pipeline(_arn(pid), creator, tags),
                action="datapipeline:GetPipelineDefinition",
            )
        ]
        return {"pipelineIdList": visible, "hasMoreResults": False}

    def describe(self, call: Call) -> dict[str, Any]:
        return {
            "pipelineDescriptionList": [
                {"pipelineId": pid, "name": pid, "fields": []} for pid in call.input["pipelineIds"]
            ]
        }

    def delete(self, call: Call) -> None:
        del self.pipelines[call.input["pipelineId"]]

    async def poll(self, call: Call) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {}

    def poll_keys(self, call: Call) -> list[AuthorizationKeys]:
        return [AuthorizationKeys(worker_group=call.input["workerGroup"])]

    def operations(self) -> OperationTable:
        return OperationTable(
            [
                Operation("CreatePipeline", self.create, keys=self.create_keys),
                Operation("ListPipelines", self.listing),
                Operation("DescribePipelines", self.describe, keys=self.keys),
                Operation("DeletePipeline", self.delete, keys=self.keys),
                Operation("PollForTask", self.poll, keys=self.poll_keys),
            ]
        )


class Server:
    def __init__(self, tmp_path: Path, operations: OperationTable | None = None) -> None:
        self.store = IdentityStore(tmp_path / "state")
        self.pipelines = Pipelines()
        self.config = ServerConfig(state_dir=tmp_path / "state", region=REGION, max_body_bytes=4096)
        self.app = create_app(self.config, self.store, operations or self.pipelines.operations())
        self.client = TestClient(self.app, base_url="http://testserver")

    def user(self, name: str, policy: Mapping[str, Any] | None = None) -> AccessKey:
        key = new_access_key()
        policies = {"p": json.dumps(policy)} if policy is not None else {}
        self.store.add_user(name, access_key=key, policies=policies)
        return key

    def call(
        self,
        key: AccessKey,
        operation: str,
        body: Mapping[str, Any] | bytes | None = None,
        *,
        content_type: str = "application/x-amz-json-1.1",
    ) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        headers = {"Content-Type": content_type, "X-Amz-Target": f"DataPipeline.{operation}"}
        request = AWSRequest(method="POST", url=URL, data=data, headers=headers)
        credentials = Credentials(key.access_key_id, key.secret_access_key)
        SigV4Auth(credentials, "datapipeline", REGION).add_auth(request)
        response = self.client.post("/", content=data, headers=dict(request.headers.items()))
        assert response.headers["x-amzn-requestid"]
        return response.status_code, response.json()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    made = Server(tmp_path)
    yield made
    made.store.close()


def code_of(result: tuple[int, dict[str, Any]]) -> str:
    return str(result[1]["__type"]).rsplit("#", 1)[1]


def test_handler_gets_the_caller_input_and_request(server: Server) -> None:
    key = server.user("alice", OWNER_OR_TEST)
    status, body = server.call(
        key,
        "CreatePipeline",
        {"name": "n", "uniqueId": "u", "tags": [{"key": "env", "value": "test"}]},
    )
    assert status == 200
    assert body["pipelineId"].startswith("df-")
    call = server.pipelines.calls[0]
    assert call.caller.name == "alice"
    assert call.caller.arn == "arn:aws:iam::123456789012:user/alice"
    assert call.caller.access_key_id == key.access_key_id
    assert call.input == {"name": "n", "uniqueId": "u", "tags": [{"key": "env", "value": "test"}]}
    assert call.action == "datapipeline:CreatePipeline"
    assert len(call.request_id) == 36
    assert call.received_at.tzinfo is not None


def test_request_tags_reach_the_policy(server: Server) -> None:
    key = server.user("alice", OWNER_OR_TEST)
    tags = [{"key": "owner", "value": "x"}]
    result = server.call(key, "CreatePipeline", {"name": "n", "uniqueId": "u", "tags": tags})
    assert code_of(result) == "AccessDeniedException"
    assert "datapipeline:CreatePipeline" in result[1]["message"]


def test_creator_and_resource_tags_decide_per_pipeline(server: Server) -> None:
    alice, bob = server.user("alice", OWNER_OR_TEST), server.user("bob", OWNER_OR_TEST)
    created = server.call(alice, "CreatePipeline", {"name": "a", "uniqueId": "1"})[1]["pipelineId"]
    server.pipelines.pipelines["df-test"] = ("someone-else", {"env": "test"})

    assert server.call(bob, "DescribePipelines", {"pipelineIds": ["df-test"]})[0] == 200
    refused = server.call(bob, "DescribePipelines", {"pipelineIds": ["df-test", created]})
    assert code_of(refused) == "AccessDeniedException"
    assert refused[0] == 400
    assert code_of(server.call(bob, "DeletePipeline", {"pipelineId": created})) == (
        "AccessDeniedException"
    )
    assert server.call(alice, "DeletePipeline", {"pipelineId": created}) == (200, {})
    assert created not in server.pipelines.pipelines


def test_a_handler_filters_with_is_allowed(server: Server) -> None:
    alice, bob = server.user("alice", OWNER_OR_TEST), server.user("bob", OWNER_OR_TEST)
    server.call(alice, "CreatePipeline", {"name": "a", "uniqueId": "1"})
    server.call(bob, "CreatePipeline", {"name": "b", "uniqueId": "2"})
    listed = server.call(alice, "ListPipelines")[1]["pipelineIdList"]
    assert [entry["id"] for entry in listed] == ["df-0000000000000000000"]


def test_keys_function_errors_come_before_authorisation(server: Server) -> None:
    key = server.user("alice", OWNER_OR_TEST)
    result = server.call(key, "DescribePipelines", {"pipelineIds": ["df-missing"]})
    assert result == (
        400,
        {
            "__type": "com.amazon.setl.webservice#PipelineNotFoundException",
            "message": "Pipeline df-missing not found",
        },
    )


def test_async_handler_and_worker_group_key(server: Server) -> None:
    key = server.user("alice", OWNER_OR_TEST)
    assert server.call(key, "PollForTask", {"workerGroup": "dev-1"}) == (200, {})
    refused = server.call(key, "PollForTask", {"workerGroup": "prod-1"})
    assert code_of(refused) == "AccessDeniedException"


def test_user_without_policies_is_denied_with_aws_message(server: Server) -> None:
    key = server.user("nobody")
    status, body = server.call(key, "ListPipelines")
    assert status == 400
    assert body["message"] == (
        "User: arn:aws:iam::123456789012:user/nobody is not authorized to perform: "
        "datapipeline:ListPipelines on resource: *"
    )


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (ApiError(ErrorCode.TASK_NOT_FOUND, "gone"), "TaskNotFoundException", "gone"),
        (ConfigError(["a", "b"]), "InvalidRequestException", "a; b"),
        (
            NotFoundError("secret detail"),
            "InternalServiceError",
            "An internal error occurred; the server's log has the details",
        ),
        (
            RuntimeError("secret detail"),
            "InternalServiceError",
            "An internal error occurred; the server's log has the details",
        ),
    ],
)
def test_handler_errors_are_rendered_by_the_server(
    tmp_path: Path, raised: Exception, code: str, message: str
) -> None:
    def failing(call: Call) -> None:
        raise raised

    server = Server(tmp_path, OperationTable([Operation("ListPipelines", failing)]))
    key = server.user("alice", OWNER_OR_TEST)
    status, body = server.call(key, "ListPipelines")
    assert (code_of((status, body)), body["message"]) == (code, message)
    assert status == (500 if code == "InternalServiceError" else 400)


def test_content_type_and_body_limits(server: Server) -> None:
    key = server.user("alice", OWNER_OR_TEST)
    wrong_type = server.call(key, "ListPipelines", content_type="text/plain")
    assert code_of(wrong_type) == "SerializationException"
    too_big = server.call(key, "ListPipelines", {"marker": "x" * 5000})
    assert code_of(too_big) == "InvalidRequestException"
    assert too_big[1]["message"] == "The request body is larger than 4096 bytes"
    assert server.call(key, "ListPipelines", b"")[0] == 200


def test_sts_deny_on_get_session_token_holds(server: Server) -> None:
    key = server.user("alice", OWNER_OR_TEST)
    body = b"Action=GetSessionToken&Version=2011-06-15"
    request = AWSRequest(
        method="POST",
        url=URL,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "sts", REGION).add_auth(
        request
    )
    response = server.client.post("/", content=body, headers=dict(request.headers.items()))
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text
    assert "sts:GetSessionToken" in response.text


def test_unsigned_sts_request_gets_an_xml_error(server: Server) -> None:
    response = server.client.post(
        "/",
        content=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in response.text


def test_other_paths_answer_api_clients_in_json_and_people_in_html(server: Server) -> None:
    api = server.client.post("/other", headers={"X-Amz-Target": "DataPipeline.ListPipelines"})
    assert api.status_code == 404
    assert api.json()["__type"].endswith("#UnknownOperationException")
    assert len(api.headers["x-amzn-RequestId"]) == 36  # as on every API answer
    page = server.client.get("/")
    assert page.status_code == 405
    assert page.headers["content-type"].startswith("text/html")
    assert "--endpoint-url" in page.text


def test_background_services_start_and_stop_with_the_app(tmp_path: Path) -> None:
    events: list[str] = []

    class Scheduler:
        async def start(self) -> None:
            events.append("start")

        async def stop(self) -> None:
            events.append("stop")

    store = IdentityStore(tmp_path)
    app = create_app(
        ServerConfig(state_dir=tmp_path), store, OperationTable(), services=[Scheduler()]
    )
    with TestClient(app):
        assert events == ["start"]
    assert events == ["start", "stop"]


def test_operation_names_are_the_services(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an operation"):
        Operation("DropTable", lambda call: None)
    with pytest.raises(ValueError, match="two handlers"):
        OperationTable([Operation("ListPipelines", dict), Operation("ListPipelines", dict)])


def test_at_most_threads_requests_are_served_at_once(tmp_path: Path) -> None:
    running: list[int] = [0, 0]  # now, most at once
    lock = threading.Lock()

    def slow_listing(call: Call) -> dict[str, Any]:
        with lock:
            running[0] += 1
            running[1] = max(running)
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return {"pipelineIdList": [], "hasMoreResults": False}

    made = Server(tmp_path)
    key = made.user("alice", OWNER_OR_TEST)
    app = create_app(
        ServerConfig(state_dir=tmp_path / "state", region=REGION, threads=2),
        made.store,
        OperationTable([Operation("ListPipelines", slow_listing)]),
    )
    try:
        with TestClient(app, base_url="http://testserver") as client:
            made.client = client
            with ThreadPoolExecutor(6) as pool:
                results = list(pool.map(lambda _: made.call(key, "ListPipelines"), range(6)))
    finally:
        made.store.close()
    assert [status for status, _ in results] == [200] * 6
    assert running[1] == 2
