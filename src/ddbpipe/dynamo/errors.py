"""DynamoDB's errors translated into ddbpipe's tree, in this one place."""

from __future__ import annotations

import orjson

from ddbpipe.errors import (
    AccessDeniedError,
    DdbpipeError,
    ServiceError,
    TableNotFoundError,
    ThrottledError,
    TransientError,
)

__all__ = ["map_connection_error", "map_response_error"]

_THROTTLING = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)
_TRANSIENT = frozenset({"InternalServerError", "ServiceUnavailable", "InternalFailure"})
_ACCESS = frozenset(
    {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException"}
)


def _code_and_message(body: bytes) -> tuple[str, str]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", body[:200].decode(errors="replace")
    if not isinstance(parsed, dict):
        return "", ""
    code = str(parsed.get("__type", "")).rpartition("#")[2]
    message = str(parsed.get("message") or parsed.get("Message") or "")
    return code, message


def map_response_error(
    operation: str, status: int, body: bytes, *, resource: str, region: str | None
) -> DdbpipeError:
    """The error for a non-200 DynamoDB response to ``operation`` on ``resource``."""
    code, message = _code_and_message(body)
    if code in _THROTTLING:
        return ThrottledError(f"DynamoDB {operation} on {resource or '?'} throttled: {code}")
    if code in _TRANSIENT or status >= 500:
        return TransientError(
            f"DynamoDB {operation} on {resource or '?'} failed with HTTP {status} {code}: {message}"
        )
    if code == "ResourceNotFoundException" and resource:
        return TableNotFoundError(resource, region)
    if code in _ACCESS or status == 403:
        return AccessDeniedError(f"dynamodb:{operation}", resource or "DynamoDB", message or code)
    return ServiceError("DynamoDB", code or f"HTTP {status}", message, operation=operation)


def map_connection_error(operation: str, endpoint: str, exc: Exception) -> DdbpipeError:
    """The error for a request that got no HTTP response."""
    return TransientError(f"DynamoDB {operation} to {endpoint} failed: {exc}")
