"""STS query protocol: requests as botocore serializes them, responses and errors as
botocore parses them."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from ddbpipe.server import sts
from ddbpipe.server.errors import ApiError, ErrorCode

NOW = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
MODEL = botocore.session.get_session().get_service_model("sts")


def counting_bytes(n: int) -> bytes:
    """A fixed stand-in for secrets.token_bytes."""
    return bytes(i % 256 for i in range(n))


def serialized(operation: str, **params: Any) -> bytes:
    """The body botocore sends for ``operation``."""
    operation_model = MODEL.operation_model(operation)
    request = create_serializer("query").serialize_to_request(params, operation_model)
    body: bytes = AWSRequest(method="POST", url="http://sts.local/", data=request["body"]).body
    return body


def parsed(operation: str | None, body: bytes, status: int = 200) -> dict[str, Any]:
    """What botocore's query parser makes of a response body."""
    shape = MODEL.operation_model(operation).output_shape if operation else None
    response = {"body": body, "headers": {}, "status_code": status}
    result: dict[str, Any] = create_parser("query").parse(response, shape)
    return result


def refused(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- requests ---------------------------------------------------------------------------


def test_botocore_get_session_token_body_parses() -> None:
    body = serialized("GetSessionToken", DurationSeconds=3600)
    request = sts.parse_request(body)
    assert request == sts.StsRequest("GetSessionToken", {"DurationSeconds": "3600"})
    assert sts.session_duration(request) == timedelta(hours=1)


def test_botocore_get_caller_identity_body_parses() -> None:
    request = sts.parse_request(serialized("GetCallerIdentity"))
    assert request == sts.StsRequest("GetCallerIdentity", {})


def test_presigned_query_parameters_count_and_signature_parameters_do_not() -> None:
    query = (
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKID%2F20240501%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Signature=00"
    )
    request = sts.parse_request(b"", query)
    assert request == sts.StsRequest("GetCallerIdentity", {})


def test_missing_action() -> None:
    error = refused(sts.parse_request, b"Version=2011-06-15")
    assert error.error_code is ErrorCode.MISSING_ACTION
    assert (error.query_code, error.query_status, error.message) == (
        "MissingAction",
        400,
        "Missing Action",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"Action=AssumeRole&Version=2011-06-15", "AssumeRole for version 2011-06-15"),
        (b"Action=GetSessionToken&Version=2010-01-01", "GetSessionToken for version 2010-01-01"),
        (b"Action=GetSessionToken", "GetSessionToken for version "),
    ],
)
def test_action_this_server_does_not_offer(body: bytes, message: str) -> None:
    error = refused(sts.parse_request, body)
    assert (error.query_code, error.message) == (
        "InvalidAction",
        f"Could not find operation {message}",
    )


# --- DurationSeconds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "seconds"),
    [({}, 43200), ({"DurationSeconds": "900"}, 900), ({"DurationSeconds": "129600"}, 129600)],
)
def test_duration_default_and_limits(params: dict[str, str], seconds: int) -> None:
    request = sts.StsRequest("GetSessionToken", params)
    assert sts.session_duration(request) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("raw", "constraint"),
    [
        ("899", "Member must have value greater than or equal to 900"),
        ("129601", "Member must have value less than or equal to 129600"),
        ("-5", "Member must be an integer"),
        ("1e3", "Member must be an integer"),
    ],
)
def test_duration_out_of_range_is_a_validation_error(raw: str, constraint: str) -> None:
    request = sts.StsRequest("GetSessionToken", {"DurationSeconds": raw})
    error = refused(sts.session_duration, request)
    assert (error.query_code, error.query_status) == ("ValidationError", 400)
    assert error.message == (
        f"1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy "
        f"constraint: {constraint}"
    )


# --- new credentials --------------------------------------------------------------------


def test_new_credentials_are_drawn_from_the_random_source() -> None:
    credentials = sts.new_session_credentials(
        now=NOW, duration=timedelta(hours=2), random_bytes=counting_bytes
    )
    assert credentials.access_key_id == "ASIA" + base64.b32encode(counting_bytes(10)).decode()
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", credentials.access_key_id)
    assert credentials.secret_access_key == base64.b64encode(counting_bytes(30)).decode()
    assert len(credentials.secret_access_key) == 40
    assert credentials.session_token == base64.b64encode(counting_bytes(96)).decode()
    assert credentials.expiration == datetime(2024, 5, 1, 14, 30, 15, tzinfo=UTC)
    assert credentials.secret_access_key not in repr(credentials)
    assert credentials.session_token not in repr(credentials)


def test_two_draws_of_the_real_random_source_differ() -> None:
    one = sts.new_session_credentials(now=NOW, duration=timedelta(hours=1))
    two = sts.new_session_credentials(now=NOW, duration=timedelta(hours=1))
    assert one.access_key_id != two.access_key_id
    assert one.session_token != two.session_token


def test_get_session_token_uses_the_requested_duration() -> None:
    request = sts.parse_request(serialized("GetSessionToken", DurationSeconds=900))
    credentials = sts.get_session_token(
        request, caller_temporary=False, now=NOW, random_bytes=counting_bytes
    )
    assert credentials.expiration == datetime(2024, 5, 1, 12, 45, 15, tzinfo=UTC)


def test_session_credentials_cannot_get_a_session_token() -> None:
    request = sts.parse_request(serialized("GetSessionToken"))
    error = refused(sts.get_session_token, request, caller_temporary=True, now=NOW)
    assert (error.query_code, error.query_status) == ("AccessDenied", 403)
    assert error.message == "Cannot call GetSessionToken with session credentials"


def test_mfa_is_refused_rather_than_ignored() -> None:
    body = serialized("GetSessionToken", SerialNumber="GAHT12345678", TokenCode="123456")
    request = sts.parse_request(body)
    error = refused(sts.get_session_token, request, caller_temporary=False, now=NOW)
    assert error.error_code is ErrorCode.ACCESS_DENIED


def test_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sts.new_session_credentials(now=NOW.replace(tzinfo=None), duration=timedelta(hours=1))


# --- responses as botocore reads them ---------------------------------------------------


def test_botocore_reads_the_session_token_response() -> None:
    credentials = sts.new_session_credentials(
        now=NOW, duration=timedelta(hours=12), random_bytes=counting_bytes
    )
    result = parsed("GetSessionToken", sts.render_session_token(credentials, "req-1"))
    returned = result["Credentials"]
    assert returned["AccessKeyId"] == credentials.access_key_id
    assert returned["SecretAccessKey"] == credentials.secret_access_key
    assert returned["SessionToken"] == credentials.session_token
    assert returned["Expiration"] == datetime(2024, 5, 2, 0, 30, 15, tzinfo=UTC)
    assert result["ResponseMetadata"]["RequestId"] == "req-1"


def test_expiration_is_iso_8601_in_utc() -> None:
    credentials = sts.new_session_credentials(
        now=NOW, duration=timedelta(hours=1), random_bytes=counting_bytes
    )
    body = sts.render_session_token(credentials, "r").decode()
    assert "<Expiration>2024-05-01T13:30:15Z</Expiration>" in body
    assert body.startswith(
        '<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetSessionTokenResult><Credentials>"
    )


def test_botocore_reads_the_caller_identity_response() -> None:
    identity = sts.CallerIdentity(
        arn="arn:aws:iam::123456789012:user/data&ops<team>",
        user_id="AIDAJQABLZS4A3QDU576Q",
        account="123456789012",
    )
    result = parsed("GetCallerIdentity", sts.render_caller_identity(identity, "req-2"))
    assert result["Arn"] == identity.arn
    assert result["UserId"] == identity.user_id
    assert result["Account"] == identity.account
    assert result["ResponseMetadata"]["RequestId"] == "req-2"


@pytest.mark.parametrize(
    ("code", "query_code", "type_"),
    [
        (ErrorCode.MISSING_AUTHENTICATION_TOKEN, "MissingAuthenticationToken", "Sender"),
        (ErrorCode.INCOMPLETE_SIGNATURE, "IncompleteSignature", "Sender"),
        (ErrorCode.INVALID_SIGNATURE, "SignatureDoesNotMatch", "Sender"),
        (ErrorCode.UNRECOGNIZED_CLIENT, "InvalidClientTokenId", "Sender"),
        (ErrorCode.EXPIRED_TOKEN, "ExpiredToken", "Sender"),
        (ErrorCode.ACCESS_DENIED, "AccessDenied", "Sender"),
        (ErrorCode.VALIDATION, "ValidationError", "Sender"),
        (ErrorCode.INTERNAL_SERVICE_ERROR, "InternalFailure", "Receiver"),
    ],
)
def test_botocore_reads_error_responses(code: ErrorCode, query_code: str, type_: str) -> None:
    error = ApiError(code, "it went wrong & <why>")
    result = parsed(None, sts.render_error(error, "req-3"), status=error.query_status)
    assert result["Error"] == {"Type": type_, "Code": query_code, "Message": error.message}
    assert result["ResponseMetadata"]["RequestId"] == "req-3"
