"""``ddbpipe serve`` as a real process, driven with boto3 and the AWS CLI: users added
with ``ddbpipe users add`` while it runs sign in; every way a signature can fail gets
the error AWS sends; policies, rate limits and shapes are enforced."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.api_server import (
    ACCOUNT_ID,
    ALLOW_ALL,
    HEARTBEAT_BURST,
    REGION,
    ApiServer,
    UserKeys,
    serve_command,
    signed_post,
)
from tests.support.servers import AWS_CONFIG_DIR, REPO_ROOT, free_port, running_server

pytestmark = pytest.mark.integration

LIST = "DataPipeline.ListPipelines"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def user(api_server: ApiServer) -> UserKeys:
    """A new user allowed every Data Pipeline action."""
    return api_server.add_user(unique("alice"), policy=ALLOW_ALL)


def error_of(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def aws_cli(api_server: ApiServer, *args: str, **keys: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI installed with the dev extras, with the test environment's config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(AWS_CONFIG_DIR / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(AWS_CONFIG_DIR / "credentials"),
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        **keys,
    )
    command = [sys.executable, "-m", "awscli", "--endpoint-url", api_server.url, "--output"]
    return subprocess.run(
        [*command, "json", *args], env=env, capture_output=True, text=True, timeout=120
    )


def cli_keys(keys: UserKeys) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
    }


@pytest.fixture
def moved_clock(api_server: ApiServer) -> Iterator[ApiServer]:
    """The server, whose clock the test may move; set back afterwards."""
    yield api_server
    api_server.set_clock_offset(0)


def signing_at(moment: datetime) -> Any:
    """botocore signs as if it were ``moment``."""
    return mock.patch(
        "botocore.auth.get_current_datetime", return_value=moment.replace(tzinfo=None)
    )


# --- the state ------------------------------------------------------------------------


def test_state_file_is_readable_by_its_owner_only(api_server: ApiServer, user: UserKeys) -> None:
    files = sorted(api_server.state.glob("identities.sqlite3*"))
    assert files, "the identity store is missing"
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(api_server.state.stat().st_mode) == 0o700


# --- signing in ---------------------------------------------------------------------------


def test_user_added_while_the_server_runs_signs_in_with_boto3(
    api_server: ApiServer, user: UserKeys
) -> None:
    listing = api_server.client("datapipeline", user).list_pipelines()
    assert {"id": "df-CALLER", "name": user.name} in listing["pipelineIdList"]
    identity = api_server.client("sts", user).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{user.name}"
    assert identity["Account"] == ACCOUNT_ID
    assert identity["UserId"].startswith("AIDA")


def test_responses_carry_a_request_id_and_a_crc32(api_server: ApiServer, user: UserKeys) -> None:
    status, headers, body = signed_post(api_server.url, user, target=LIST, body=b"{}")
    lowered = {k.lower(): v for k, v in headers.items()}
    assert status == 200
    assert len(lowered["x-amzn-requestid"]) == 36
    assert lowered["content-type"] == "application/x-amz-json-1.1"
    assert int(lowered["x-amz-crc32"]) > 0
    assert body["hasMoreResults"] is False


def test_aws_cli_signs_in_and_uses_a_session_token(api_server: ApiServer, user: UserKeys) -> None:
    listing = aws_cli(api_server, "datapipeline", "list-pipelines", **cli_keys(user))
    assert listing.returncode == 0, listing.stderr
    assert {"id": "df-CALLER", "name": user.name} in json.loads(listing.stdout)["pipelineIdList"]

    made = aws_cli(
        api_server, "sts", "get-session-token", "--duration-seconds", "900", **cli_keys(user)
    )
    assert made.returncode == 0, made.stderr
    session = json.loads(made.stdout)["Credentials"]
    assert session["AccessKeyId"].startswith("ASIA")
    session_keys = {
        "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
        "AWS_SESSION_TOKEN": session["SessionToken"],
    }
    identity = aws_cli(api_server, "sts", "get-caller-identity", **session_keys)
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{user.name}"
    again = aws_cli(api_server, "datapipeline", "list-pipelines", **session_keys)
    assert again.returncode == 0, again.stderr


def test_aws_cli_shows_the_error_code(api_server: ApiServer, user: UserKeys) -> None:
    wrong = {**cli_keys(user), "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    listing = aws_cli(api_server, "datapipeline", "list-pipelines", **wrong)
    assert listing.returncode != 0
    assert "(InvalidSignatureException)" in listing.stderr


# --- signature failures ---------------------------------------------------------------------


def test_no_signature_is_missing_authentication_token(api_server: ApiServer) -> None:
    anonymous = api_server.client(
        "datapipeline", ("x" * 20, "y" * 40), config=Config(signature_version=UNSIGNED)
    )
    code, message, _ = error_of(anonymous.list_pipelines)
    assert (code, message) == (
        "MissingAuthenticationTokenException",
        "Request is missing Authentication Token",
    )


def test_unknown_key_is_unrecognized_client(api_server: ApiServer) -> None:
    stranger = api_server.client("datapipeline", ("AKIAUNKNOWNKEY000000", "s" * 40))
    code, message, _ = error_of(stranger.list_pipelines)
    assert code == "UnrecognizedClientException"
    assert message == "The security token included in the request is invalid."


def test_wrong_secret_is_invalid_signature(api_server: ApiServer, user: UserKeys) -> None:
    wrong = api_server.client("datapipeline", (user.access_key_id, "not-the-secret"))
    code, message, _ = error_of(wrong.list_pipelines)
    assert code == "InvalidSignatureException"
    assert message.startswith("The request signature we calculated does not match")
    # As AWS does, the error says what the server signed, to compare with the client's.
    assert "The Canonical String for this request should have been\n'POST\n/\n" in message
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message


def test_tampered_body_is_invalid_signature(api_server: ApiServer, user: UserKeys) -> None:
    status, _, body = signed_post(
        api_server.url, user, target=LIST, body=b'{"marker": "a"}', sent_body=b'{"marker": "b"}'
    )
    assert status == 400
    assert body["__type"].endswith("#InvalidSignatureException")


def test_request_signed_six_minutes_ago_has_expired(api_server: ApiServer, user: UserKeys) -> None:
    with signing_at(datetime.now(UTC) - timedelta(minutes=6)):
        code, message, _ = error_of(api_server.client("datapipeline", user).list_pipelines)
    assert code == "InvalidSignatureException"
    assert message.startswith("Signature expired:")


def test_request_signed_for_another_region_is_refused(
    api_server: ApiServer, user: UserKeys
) -> None:
    elsewhere = api_server.client("datapipeline", user, region="ap-south-1")
    code, message, _ = error_of(elsewhere.list_pipelines)
    assert code == "InvalidSignatureException"
    assert "Credential should be scoped to a valid region, not 'ap-south-1'" in message


def session_credentials(api_server: ApiServer, user: UserKeys) -> tuple[str, str, str]:
    made = api_server.client("sts", user).get_session_token(DurationSeconds=900)["Credentials"]
    return made["AccessKeyId"], made["SecretAccessKey"], made["SessionToken"]


def test_session_token_works_until_it_expires(moved_clock: ApiServer, user: UserKeys) -> None:
    session = session_credentials(moved_clock, user)
    pipelines = moved_clock.client("datapipeline", session)
    assert pipelines.list_pipelines()["hasMoreResults"] is False

    moved_clock.set_clock_offset(901)
    with signing_at(datetime.now(UTC) + timedelta(seconds=901)):
        code, message, _ = error_of(pipelines.list_pipelines)
    assert code == "ExpiredTokenException"
    assert message == "The security token included in the request is expired"


def test_session_token_with_the_wrong_secret_is_invalid_signature(
    api_server: ApiServer, user: UserKeys
) -> None:
    key, _, token = session_credentials(api_server, user)
    forged = api_server.client("datapipeline", (key, user.secret_access_key, token))
    assert error_of(forged.list_pipelines)[0] == "InvalidSignatureException"


def test_session_key_without_its_token_is_unrecognized(
    api_server: ApiServer, user: UserKeys
) -> None:
    key, secret, _ = session_credentials(api_server, user)
    tokenless = api_server.client("datapipeline", (key, secret))
    assert error_of(tokenless.list_pipelines)[0] == "UnrecognizedClientException"


def test_removed_user_is_locked_out_at_once(api_server: ApiServer, user: UserKeys) -> None:
    pipelines = api_server.client("datapipeline", user)
    assert pipelines.list_pipelines()["hasMoreResults"] is False
    removed = api_server.ddbpipe("users", "remove", user.name)
    assert removed.returncode == 0, removed.stderr
    assert error_of(pipelines.list_pipelines)[0] == "UnrecognizedClientException"


# --- authorisation ----------------------------------------------------------------------------


def test_user_without_list_pipelines_is_denied(api_server: ApiServer) -> None:
    describe_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "datapipeline:Describe*", "Resource": "*"}],
    }
    reader = api_server.add_user(unique("reader"), policy=describe_only)
    code, message, status = error_of(api_server.client("datapipeline", reader).list_pipelines)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{reader.name} is not authorized to perform: "
        "datapipeline:ListPipelines on resource: *"
    )


def test_policy_attached_while_the_server_runs_applies_at_once(api_server: ApiServer) -> None:
    newcomer = api_server.add_user(unique("newcomer"))
    pipelines = api_server.client("datapipeline", newcomer)
    assert error_of(pipelines.list_pipelines)[0] == "AccessDeniedException"
    attached = api_server.ddbpipe(
        "users", "attach-policy", newcomer.name, "--managed", "AWSDataPipeline_FullAccess"
    )
    assert attached.returncode == 0, attached.stderr
    assert pipelines.list_pipelines()["hasMoreResults"] is False


def test_tag_condition_decides_per_pipeline(api_server: ApiServer) -> None:
    test_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "datapipeline:DescribePipelines",
                "Resource": "*",
                "Condition": {"StringEquals": {"datapipeline:Tag/env": "test"}},
            }
        ],
    }
    tester = api_server.add_user(unique("tester"), policy=test_only)
    pipelines = api_server.client("datapipeline", tester)
    described = pipelines.describe_pipelines(pipelineIds=["df-TEST0000000000001"])
    assert described["pipelineDescriptionList"][0]["name"] == "test-export"
    code, message, _ = error_of(pipelines.describe_pipelines, pipelineIds=["df-PRODUCTION0000001"])
    assert code == "AccessDeniedException"
    assert "datapipeline:DescribePipelines" in message


# --- limits and shapes ----------------------------------------------------------------------


def test_rate_limit_gives_throttling_exception(api_server: ApiServer, user: UserKeys) -> None:
    runner = api_server.client("datapipeline", user)
    for _ in range(HEARTBEAT_BURST):
        assert runner.report_task_runner_heartbeat(taskrunnerId="r1")["terminate"] is False
    code, message, status = error_of(runner.report_task_runner_heartbeat, taskrunnerId="r1")
    assert (code, message, status) == ("ThrottlingException", "Rate exceeded", 400)
    other = api_server.add_user(unique("other"), policy=ALLOW_ALL)
    assert api_server.client("datapipeline", other).report_task_runner_heartbeat(
        taskrunnerId="r2"
    ) == {"terminate": False, "ResponseMetadata": mock.ANY}


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("DataPipeline.DropEverything", "Unknown operation DataPipeline.DropEverything"),
        ("DataPipeline.CreatePipeline", "Operation CreatePipeline is not available on this server"),
        (None, "Missing X-Amz-Target header"),
    ],
)
def test_unknown_operation(
    api_server: ApiServer, user: UserKeys, target: str | None, message: str
) -> None:
    status, _, body = signed_post(api_server.url, user, target=target, body=b"{}")
    assert status == 400
    assert body == {
        "__type": "com.amazon.coral.service#UnknownOperationException",
        "message": message,
    }


def test_legacy_target_prefix_is_accepted(api_server: ApiServer, user: UserKeys) -> None:
    status, _, body = signed_post(
        api_server.url, user, target="DataPipeline_20121129.ListPipelines", body=b"{}"
    )
    assert status == 200
    assert body["hasMoreResults"] is False


def test_malformed_body_is_a_serialization_error(api_server: ApiServer, user: UserKeys) -> None:
    status, _, body = signed_post(api_server.url, user, target=LIST, body=b"{not json")
    assert status == 400
    assert body["__type"] == "com.amazon.coral.service#SerializationException"


def test_missing_member_is_invalid_request_in_aws_words(
    api_server: ApiServer, user: UserKeys
) -> None:
    unchecked = api_server.client("datapipeline", user, config=Config(parameter_validation=False))
    code, message, status = error_of(unchecked.describe_pipelines)
    assert (code, status) == ("InvalidRequestException", 400)
    assert message == (
        "1 validation error detected: Value null at 'pipelineIds' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_body_over_the_limit_is_refused(api_server: ApiServer, user: UserKeys) -> None:
    huge = json.dumps({"marker": "x" * (9 * 1024 * 1024)}).encode()
    status, _, body = signed_post(api_server.url, user, target=LIST, body=huge)
    assert status == 400
    assert body["__type"].endswith("#InvalidRequestException")
    assert "larger than" in body["message"]


# --- the process ------------------------------------------------------------------------------


def test_requests_are_logged_one_line_each(api_server: ApiServer, user: UserKeys) -> None:
    api_server.client("datapipeline", user).list_pipelines()
    lines = [line for line in api_server.log().splitlines() if f" {user.name} " in line]
    assert any("POST ListPipelines" in line and " 200 " in line for line in lines), lines


def test_fresh_server_says_how_to_add_a_user_and_stops_cleanly(tmp_path: Path) -> None:
    state, clock_file = tmp_path / "state", tmp_path / "clock"
    clock_file.write_text("0")
    with running_server(
        "ddbpipe-serve-fresh",
        lambda port: [*serve_command(state, clock_file), "--port", str(port)],
        tmp_path,
    ) as server:
        process = server.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        # uvicorn raises the signal again once it has shut down, as supervisors expect.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        log = server.log_tail()
    assert "No users yet" in log
    assert "ddbpipe users add NAME" in log
    assert "demo scheduler started" in log
    assert log.index("demo scheduler stopped") > log.index("Shutting down")
    assert "Finished server process" in log


def test_bad_options_exit_with_a_configuration_error(tmp_path: Path) -> None:
    command = [
        *serve_command(tmp_path / "state", tmp_path / "clock"),
        "--port",
        str(free_port()),
        "--rate-limit",
        "Nope=1/1",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 3
    assert "rate limit 'Nope=1/1'" in done.stderr
