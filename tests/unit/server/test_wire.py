"""A loopback endpoint that checks every signature, as ``ddbpipe serve`` will: boto3 and
the AWS CLI get through with permanent and session keys; wrong keys get the errors AWS
sends, which botocore parses into the right codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ddbpipe.server import sts
from ddbpipe.server.errors import JSON_CONTENT_TYPE, ApiError, render_json_error
from ddbpipe.server.sigv4 import StoredCredential, VerifiedRequest, verify

REGION = "eu-west-1"
ACCOUNT = "123456789012"
KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


class Endpoint:
    """Data Pipeline's ListPipelines and STS on one loopback port; every request is
    verified first, and errors go back in each protocol's form."""

    def __init__(self) -> None:
        self.credentials: dict[str, StoredCredential[str]] = {
            KEY: StoredCredential(SECRET, principal="alice")
        }
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = [(k, v) for k, v in self.headers.items()]
                status, content_type, reply = endpoint.answer(
                    self.command, self.path, headers, body
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.send_header("x-amzn-RequestId", "request-1")
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, str, bytes]:
        path, _, query = target.partition("?")
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        is_sts = content_type.startswith("application/x-www-form-urlencoded") or "Action=" in query
        try:
            verified = verify(
                method,
                path,
                query,
                headers,
                body,
                now=datetime.now(UTC),
                service="sts" if is_sts else "datapipeline",
                regions={REGION},
                lookup=self.credentials.get,
            )
            if is_sts:
                return 200, sts.XML_CONTENT_TYPE, self.answer_sts(verified, body, query)
        except ApiError as error:
            if is_sts:
                return error.query_status, sts.XML_CONTENT_TYPE, sts.render_error(error, "r")
            return error.status, JSON_CONTENT_TYPE, render_json_error(error)
        listing = {"pipelineIdList": [{"id": "df-1", "name": verified.principal}]}
        return 200, JSON_CONTENT_TYPE, json.dumps({**listing, "hasMoreResults": False}).encode()

    def answer_sts(self, verified: VerifiedRequest[str], body: bytes, query: str) -> bytes:
        request = sts.parse_request(body, query)
        if request.action == "GetCallerIdentity":
            identity = sts.CallerIdentity(
                arn=f"arn:aws:iam::{ACCOUNT}:user/{verified.principal}",
                user_id="AIDAJQABLZS4A3QDU576Q",
                account=ACCOUNT,
            )
            return sts.render_caller_identity(identity, "r")
        made = sts.get_session_token(
            request, caller_temporary=verified.credential.temporary, now=datetime.now(UTC)
        )
        self.credentials[made.access_key_id] = StoredCredential(
            made.secret_access_key,
            principal=verified.principal,
            session_token=made.session_token,
            expiration=made.expiration,
        )
        return sts.render_session_token(made, "r")


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def client(
    endpoint: Endpoint, service: str, key: str = KEY, secret: str = SECRET, token: str | None = None
) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=REGION,
    )
    config = Config(retries={"max_attempts": 0})
    return session.client(service, endpoint_url=endpoint.url, config=config)


def error_of(call: Any, **params: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# --- boto3 --------------------------------------------------------------------------------


def test_boto3_datapipeline_call_is_verified(endpoint: Endpoint) -> None:
    listing = client(endpoint, "datapipeline").list_pipelines()
    assert listing["pipelineIdList"] == [{"id": "df-1", "name": "alice"}]


def test_boto3_with_a_wrong_secret_gets_invalid_signature(endpoint: Endpoint) -> None:
    pipelines = client(endpoint, "datapipeline", secret="wrong")
    assert error_of(pipelines.list_pipelines) == ("InvalidSignatureException", 400)


def test_boto3_with_an_unknown_key_gets_unrecognized_client(endpoint: Endpoint) -> None:
    pipelines = client(endpoint, "datapipeline", key="AKIAUNKNOWNEXAMPLE00")
    assert error_of(pipelines.list_pipelines) == ("UnrecognizedClientException", 400)


def test_boto3_checks_its_keys_with_get_caller_identity(endpoint: Endpoint) -> None:
    identity = client(endpoint, "sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert identity["Account"] == ACCOUNT


def test_boto3_sts_with_a_wrong_secret_gets_signature_does_not_match(endpoint: Endpoint) -> None:
    identity = client(endpoint, "sts", secret="wrong")
    assert error_of(identity.get_caller_identity) == ("SignatureDoesNotMatch", 403)


def test_boto3_session_token_round_trip(endpoint: Endpoint) -> None:
    made = client(endpoint, "sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert made["AccessKeyId"].startswith("ASIA")
    as_session = (made["AccessKeyId"], made["SecretAccessKey"], made["SessionToken"])

    listing = client(endpoint, "datapipeline", *as_session).list_pipelines()
    assert listing["pipelineIdList"][0]["name"] == "alice"
    identity = client(endpoint, "sts", *as_session).get_caller_identity()
    assert identity["Arn"].endswith(":user/alice")

    again = client(endpoint, "sts", *as_session).get_session_token
    assert error_of(again) == ("AccessDenied", 403)
    tokenless = client(endpoint, "datapipeline", *as_session[:2])
    assert error_of(tokenless.list_pipelines) == ("UnrecognizedClientException", 400)


def test_boto3_gets_sts_validation_errors(endpoint: Endpoint) -> None:
    session = boto3.session.Session(
        aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name=REGION
    )
    # botocore checks the range itself unless told not to; the server checks it too.
    config = Config(retries={"max_attempts": 0}, parameter_validation=False)
    tokens = session.client("sts", endpoint_url=endpoint.url, config=config)
    assert error_of(tokens.get_session_token, DurationSeconds=600) == ("ValidationError", 400)


# --- the AWS CLI --------------------------------------------------------------------------

AWS = shutil.which("aws")


def aws_cli(endpoint: Endpoint, tmp_path: Path, *args: str, **keys: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        **keys,
    )
    assert AWS is not None
    command = [AWS, "--endpoint-url", endpoint.url, "--output", "json", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is not installed")
def test_aws_cli_requests_are_verified(endpoint: Endpoint, tmp_path: Path) -> None:
    keys = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    listing = aws_cli(endpoint, tmp_path, "datapipeline", "list-pipelines", **keys)
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)["pipelineIdList"] == [{"id": "df-1", "name": "alice"}]

    made = aws_cli(
        endpoint, tmp_path, "sts", "get-session-token", "--duration-seconds", "900", **keys
    )
    assert made.returncode == 0, made.stderr
    session = json.loads(made.stdout)["Credentials"]
    session_keys = {
        "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
        "AWS_SESSION_TOKEN": session["SessionToken"],
    }
    identity = aws_cli(endpoint, tmp_path, "sts", "get-caller-identity", **session_keys)
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is not installed")
def test_aws_cli_with_a_wrong_secret_is_refused(endpoint: Endpoint, tmp_path: Path) -> None:
    keys = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "wrong"}
    listing = aws_cli(endpoint, tmp_path, "datapipeline", "list-pipelines", **keys)
    assert listing.returncode != 0
    assert "(InvalidSignatureException)" in listing.stderr
    assert "The request signature we calculated does not match" in listing.stderr
