"""DynamoDB's error responses map to errors that say what to do, naming table and action."""

from __future__ import annotations

import pytest

from ddbpipe.dynamo.errors import map_connection_error, map_response_error
from ddbpipe.errors import (
    AccessDeniedError,
    DdbpipeError,
    ServiceError,
    TableNotFoundError,
    ThrottledError,
    TransientError,
)


def body(kind: str, message: str = "m") -> bytes:
    return f'{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"{message}"}}'.encode()


@pytest.mark.parametrize(
    ("status", "payload", "expected", "text"),
    [
        (400, body("ProvisionedThroughputExceededException"), ThrottledError, "throttled"),
        (400, body("ThrottlingException"), ThrottledError, "throttled"),
        (400, body("RequestLimitExceeded"), ThrottledError, "throttled"),
        (500, body("InternalServerError"), TransientError, "HTTP 500"),
        (503, b"<html>unavailable</html>", TransientError, "HTTP 503"),
        (
            400,
            body("ResourceNotFoundException"),
            TableNotFoundError,
            "'orders' not found in region eu-west-1",
        ),
        (
            400,
            body("AccessDeniedException", "not authorized"),
            AccessDeniedError,
            "access denied: dynamodb:Scan on orders: not authorized",
        ),
        (400, body("UnrecognizedClientException"), AccessDeniedError, "dynamodb:Scan"),
        (
            400,
            body("ValidationException", "bad key"),
            ServiceError,
            "ValidationException: Scan: bad key",
        ),
    ],
)
def test_response_errors(status: int, payload: bytes, expected: type, text: str) -> None:
    error = map_response_error("Scan", status, payload, resource="orders", region="eu-west-1")
    assert type(error) is expected
    assert text in str(error)


def test_connection_errors_are_retriable() -> None:
    error = map_connection_error("Scan", "http://127.0.0.1:1/", ConnectionResetError("reset"))
    assert isinstance(error, TransientError)
    assert isinstance(error, DdbpipeError)
    assert "http://127.0.0.1:1/" in str(error)
