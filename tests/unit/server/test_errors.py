"""The service's wire errors: JSON 1.1 bodies botocore reads, statuses, and codes on both
protocols."""

from __future__ import annotations

import pickle

import pytest
from botocore.parsers import create_parser

from ddbpipe.errors import DdbpipeError
from ddbpipe.server.errors import JSON_CONTENT_TYPE, ApiError, ErrorCode, render_json_error


def parsed_by_botocore(error: ApiError) -> dict[str, object]:
    response = {
        "status_code": error.status,
        "headers": {"content-type": JSON_CONTENT_TYPE},
        "body": render_json_error(error),
    }
    parsed: dict[str, object] = create_parser("json").parse(response, None)
    return parsed


@pytest.mark.parametrize("code", list(ErrorCode))
def test_botocore_reads_code_and_message_of_every_error(code: ErrorCode) -> None:
    parsed = parsed_by_botocore(ApiError(code, "what went wrong: ünïcode & <tags>"))
    assert parsed["Error"] == {"Code": code.value, "Message": "what went wrong: ünïcode & <tags>"}


@pytest.mark.parametrize(
    ("code", "type_"),
    [
        (ErrorCode.PIPELINE_NOT_FOUND, "com.amazon.setl.webservice#PipelineNotFoundException"),
        (ErrorCode.INVALID_REQUEST, "com.amazon.setl.webservice#InvalidRequestException"),
        (ErrorCode.INVALID_SIGNATURE, "com.amazon.coral.service#InvalidSignatureException"),
        (ErrorCode.UNRECOGNIZED_CLIENT, "com.amazon.coral.service#UnrecognizedClientException"),
        (ErrorCode.THROTTLING, "com.amazon.coral.availability#ThrottlingException"),
    ],
)
def test_type_carries_the_namespace_the_real_service_uses(code: ErrorCode, type_: str) -> None:
    body = render_json_error(ApiError(code, "m"))
    assert body == f'{{"__type":"{type_}","message":"m"}}'.encode()


@pytest.mark.parametrize(
    ("code", "status", "query_code", "query_status"),
    [
        (ErrorCode.INTERNAL_SERVICE_ERROR, 500, "InternalFailure", 500),
        (ErrorCode.PIPELINE_NOT_FOUND, 400, "PipelineNotFoundException", 400),
        (ErrorCode.ACCESS_DENIED, 400, "AccessDenied", 403),
        (ErrorCode.THROTTLING, 400, "Throttling", 400),
        (ErrorCode.MISSING_AUTHENTICATION_TOKEN, 400, "MissingAuthenticationToken", 403),
        (ErrorCode.INCOMPLETE_SIGNATURE, 400, "IncompleteSignature", 400),
        (ErrorCode.INVALID_SIGNATURE, 400, "SignatureDoesNotMatch", 403),
        (ErrorCode.UNRECOGNIZED_CLIENT, 400, "InvalidClientTokenId", 403),
        (ErrorCode.EXPIRED_TOKEN, 400, "ExpiredToken", 403),
        (ErrorCode.VALIDATION, 400, "ValidationError", 400),
    ],
)
def test_statuses_and_query_codes(
    code: ErrorCode, status: int, query_code: str, query_status: int
) -> None:
    error = ApiError(code, "m")
    assert (error.status, error.query_code, error.query_status) == (
        status,
        query_code,
        query_status,
    )


def test_only_internal_errors_are_the_servers_fault() -> None:
    faults = {code for code in ErrorCode if ApiError(code, "m").server_fault}
    assert faults == {ErrorCode.INTERNAL_SERVICE_ERROR}


def test_api_error_is_a_ddbpipe_error_and_survives_pickling() -> None:
    error = ApiError(ErrorCode.PIPELINE_DELETED, "pipeline df-1 was deleted")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, DdbpipeError)
    assert (copy.code, copy.message, copy.status) == (
        "PipelineDeletedException",
        "pipeline df-1 was deleted",
        400,
    )
    assert str(copy) == "PipelineDeletedException: pipeline df-1 was deleted"
