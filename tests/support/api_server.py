"""``ddbpipe serve`` as a real process for the tests, with demonstration handlers and a
clock the tests can move.

Run as ``python -m tests.support.api_server CLOCK_FILE [serve options]``: the same ``serve``
command as ``ddbpipe serve`` (``make_serve_command``), answering ListPipelines,
DescribePipelines and ReportTaskRunnerHeartbeat with canned data, with a background
service that logs its start and stop, on a clock whose offset in seconds is read from
CLOCK_FILE.

As a pytest plugin it gives the session fixture ``api_server``: one such process on a
free 127.0.0.1 port, stopped when the session ends.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from ddbpipe.server.authorization import AuthorizationKeys, pipeline_arn
from ddbpipe.server.clock import SYSTEM_CLOCK
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import Call, Operation, OperationTable
from tests.support.servers import REPO_ROOT, running_server

REGION = "eu-west-1"
ACCOUNT_ID = "111122223333"
HEARTBEAT_BURST = 3

# Demonstration pipelines: id -> (name, creator, tags).
PIPELINES: dict[str, tuple[str, str, dict[str, str]]] = {
    "df-PRODUCTION0000001": ("nightly-export", "AIDAEXAMPLEOWNER00001", {"env": "production"}),
    "df-TEST0000000000001": ("test-export", "AIDAEXAMPLEOWNER00002", {"env": "test"}),
}

logger = logging.getLogger("ddbpipe.server")


# --- the server side ------------------------------------------------------------------


class OffsetClock:
    """The system clock moved by the number of seconds written in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> float:
        try:
            return float(self.path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0.0

    def now(self) -> datetime:
        return SYSTEM_CLOCK.now() + timedelta(seconds=self.offset())

    def monotonic(self) -> float:
        return SYSTEM_CLOCK.monotonic() + self.offset()


def _arn(pipeline_id: str) -> str:
    return pipeline_arn(REGION, ACCOUNT_ID, pipeline_id)


def list_pipelines(call: Call) -> dict[str, Any]:
    listing = [{"id": pid, "name": name} for pid, (name, _, _) in PIPELINES.items()]
    listing.append({"id": "df-CALLER", "name": call.caller.name})
    return {"pipelineIdList": listing, "hasMoreResults": False}


def pipeline_keys(call: Call) -> list[AuthorizationKeys]:
    keys = []
    for pipeline_id in call.input["pipelineIds"]:
        if pipeline_id not in PIPELINES:
            raise ApiError(ErrorCode.PIPELINE_NOT_FOUND, f"Pipeline {pipeline_id} not found")
        _, creator, tags = PIPELINES[pipeline_id]
        keys.append(AuthorizationKeys.for_pipeline(_arn(pipeline_id), creator, tags))
    return keys


def describe_pipelines(call: Call) -> dict[str, Any]:
    return {
        "pipelineDescriptionList": [
            {
                "pipelineId": pipeline_id,
                "name": PIPELINES[pipeline_id][0],
                "fields": [{"key": "@pipelineState", "stringValue": "PENDING"}],
                "tags": [{"key": k, "value": v} for k, v in PIPELINES[pipeline_id][2].items()],
            }
            for pipeline_id in call.input["pipelineIds"]
        ]
    }


def heartbeat(call: Call) -> dict[str, Any]:
    return {"terminate": False}


def demo_operations(config: ServerConfig, store: IdentityStore) -> OperationTable:
    return OperationTable(
        [
            Operation("ListPipelines", list_pipelines),
            Operation("DescribePipelines", describe_pipelines, keys=pipeline_keys),
            Operation("ReportTaskRunnerHeartbeat", heartbeat),
        ]
    )


class LoggingService:
    """A background service that says when it starts and stops."""

    async def start(self) -> None:
        logger.info("demo scheduler started")

    async def stop(self) -> None:
        logger.info("demo scheduler stopped")


def demo_services(config: ServerConfig, store: IdentityStore) -> Sequence[LoggingService]:
    return [LoggingService()]


def main() -> None:
    from ddbpipe.cli.serve import make_serve_command

    clock_file, *args = sys.argv[1:]
    command = make_serve_command(
        operations=demo_operations, services=demo_services, clock=OffsetClock(Path(clock_file))
    )
    command.main(args=args, prog_name="ddbpipe serve")


# --- the test side --------------------------------------------------------------------


@dataclass(frozen=True)
class UserKeys:
    """A user made with ``ddbpipe users add``, and its access key."""

    name: str
    access_key_id: str
    secret_access_key: str


class ApiServer:
    """A running ``ddbpipe serve`` and ways to use it."""

    def __init__(self, url: str, state: Path, clock_file: Path, log_path: Path) -> None:
        self.url = url
        self.state = state
        self.clock_file = clock_file
        self.log_path = log_path

    def ddbpipe(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``ddbpipe ARGS --state STATE`` in another process."""
        command = [str(Path(sys.executable).parent / "ddbpipe"), *args, "--state", str(self.state)]
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT
        )

    def add_user(
        self, name: str, *, policy: dict[str, Any] | None = None, managed: Sequence[str] = ()
    ) -> UserKeys:
        """Add a user with ``ddbpipe users add`` (an inline ``policy``, managed policies)."""
        args = ["users", "add", name, "--json"]
        if policy is not None:
            path = self.state.parent / f"{name}-policy.json"
            path.write_text(json.dumps(policy))
            args += ["--policy", str(path)]
        for each in managed:
            args += ["--managed", each]
        done = self.ddbpipe(*args)
        assert done.returncode == 0, done.stderr
        key = json.loads(done.stdout)["results"][0]["new_access_key"]
        return UserKeys(name, key["access_key_id"], key["secret_access_key"])

    def client(
        self,
        service: str,
        keys: UserKeys | tuple[str, str] | tuple[str, str, str],
        *,
        region: str = REGION,
        config: Config | None = None,
    ) -> Any:
        """A boto3 client signing with ``keys`` (key ID, secret and maybe a session token)."""
        if isinstance(keys, UserKeys):
            keys = (keys.access_key_id, keys.secret_access_key)
        token = keys[2] if len(keys) == 3 else None
        session = boto3.session.Session(
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=token,
            region_name=region,
        )
        base = Config(retries={"max_attempts": 0})
        return session.client(
            service, endpoint_url=self.url, config=base.merge(config) if config else base
        )

    def set_clock_offset(self, seconds: float) -> None:
        """Move the server's clock ``seconds`` ahead of the system's."""
        self.clock_file.write_text(str(seconds))

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace")


def signed_post(
    url: str,
    keys: UserKeys,
    *,
    target: str | None,
    body: bytes,
    sent_body: bytes | None = None,
    content_type: str = "application/x-amz-json-1.1",
    region: str = REGION,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST ``body`` signed by botocore for Data Pipeline (sending ``sent_body`` instead
    when given): the status, headers and decoded JSON body of the answer."""
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    credentials = Credentials(keys.access_key_id, keys.secret_access_key)
    SigV4Auth(credentials, "datapipeline", region).add_auth(request)
    sent = urllib.request.Request(
        url + "/",
        data=body if sent_body is None else sent_body,
        headers=dict(request.headers.items()),
        method="POST",
    )
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), json.loads(error.read())


ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "datapipeline:*", "Resource": "*"}],
}


def serve_command(state: Path, clock_file: Path, *extra: str) -> list[str]:
    """The command line of the test server, without its port."""
    return [
        sys.executable,
        "-m",
        "tests.support.api_server",
        str(clock_file),
        "--state",
        str(state),
        "--region",
        REGION,
        "--account-id",
        ACCOUNT_ID,
        *extra,
    ]


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``ddbpipe serve`` for the whole session (see the module doc)."""
    root = tmp_path_factory.mktemp("ddbpipe-serve")
    state = root / "state"
    clock_file = root / "clock-offset"
    clock_file.write_text("0")
    extra = ["--rate-limit", f"ReportTaskRunnerHeartbeat=0.001/{HEARTBEAT_BURST}"]
    with running_server(
        "ddbpipe-serve",
        lambda port: [*serve_command(state, clock_file, *extra), "--port", str(port)],
        root,
    ) as server:
        yield ApiServer(server.url, state, clock_file, server.log_path)


if __name__ == "__main__":
    main()
