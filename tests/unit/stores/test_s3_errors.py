"""S3's errors map to errors that say what to do, naming the object and the action."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from ddbpipe.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConfigError,
    NotFoundError,
    ServiceError,
    ThrottledError,
    TransientError,
)
from ddbpipe.stores.s3 import map_s3_error

URL = "s3://bucket/run/part"


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} message"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")


@pytest.mark.parametrize(
    ("code", "status", "expected", "text"),
    [
        ("NoSuchBucket", 404, BucketNotFoundError, "bucket 'bucket' does not exist"),
        ("NoSuchKey", 404, NotFoundError, URL),
        ("404", 404, NotFoundError, URL),
        ("AccessDenied", 403, AccessDeniedError, f"access denied: s3:GetObject on {URL}"),
        ("SignatureDoesNotMatch", 403, AccessDeniedError, "s3:GetObject"),
        ("SlowDown", 503, ThrottledError, "SlowDown"),
        ("InternalError", 500, TransientError, "InternalError"),
        ("InvalidRequest", 400, ServiceError, "InvalidRequest"),
    ],
)
def test_client_errors(code: str, status: int, expected: type, text: str) -> None:
    error = map_s3_error(
        client_error(code, status), action="s3:GetObject", bucket="bucket", url=URL
    )
    assert type(error) is expected
    assert text in str(error)


def test_connection_and_credential_errors() -> None:
    down = map_s3_error(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        action="s3:GetObject",
        bucket="bucket",
        url=URL,
    )
    assert isinstance(down, TransientError)
    missing = map_s3_error(NoCredentialsError(), action="s3:GetObject", bucket="bucket", url=URL)
    assert isinstance(missing, ConfigError)
    assert URL in str(missing)
