"""The service's errors as clients see them on the wire.

One exception, ``ApiError``, carries an ``ErrorCode`` and a message. Each code knows how
it travels on both protocols the server speaks:

* JSON 1.1 (Data Pipeline): HTTP status and body
  ``{"__type": "<namespace>#<Code>", "message": ...}``. botocore keeps the part of
  ``__type`` after the last ``#`` as the error code and reads ``message``.
* Query (STS): HTTP status and an ``ErrorResponse`` XML document whose ``Code`` is the
  query protocol's name for the same error (``SignatureDoesNotMatch`` where JSON says
  ``InvalidSignatureException``); ``ddbpipe.server.sts`` renders it.

Namespaces follow what the real services send: Data Pipeline's own errors are
``com.amazon.setl.webservice``; the authentication errors come from the service framework
(``com.amazon.coral.service``), throttling from ``com.amazon.coral.availability``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import orjson

from ddbpipe.errors import (
    AccessDeniedError,
    ConfigError,
    DataError,
    DdbpipeError,
    PipelineNotFoundError,
    ThrottledError,
)

__all__ = [
    "INTERNAL_MESSAGE",
    "JSON_CONTENT_TYPE",
    "ApiError",
    "ErrorCode",
    "api_error_for",
    "render_json_error",
]

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

_PIPELINE = "com.amazon.setl.webservice"
_SERVICE = "com.amazon.coral.service"
_AVAILABILITY = "com.amazon.coral.availability"
_VALIDATE = "com.amazon.coral.validate"


class ErrorCode(StrEnum):
    """Every error the service returns; the value is its JSON protocol code."""

    # Data Pipeline's modelled errors.
    INTERNAL_SERVICE_ERROR = "InternalServiceError"
    INVALID_REQUEST = "InvalidRequestException"
    PIPELINE_NOT_FOUND = "PipelineNotFoundException"
    PIPELINE_DELETED = "PipelineDeletedException"
    TASK_NOT_FOUND = "TaskNotFoundException"
    # Errors of the service framework, common to AWS JSON services.
    ACCESS_DENIED = "AccessDeniedException"
    THROTTLING = "ThrottlingException"
    UNKNOWN_OPERATION = "UnknownOperationException"
    SERIALIZATION = "SerializationException"
    VALIDATION = "ValidationException"
    # Authentication.
    MISSING_AUTHENTICATION_TOKEN = "MissingAuthenticationTokenException"
    INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
    INVALID_SIGNATURE = "InvalidSignatureException"
    UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
    EXPIRED_TOKEN = "ExpiredTokenException"
    # Query protocol only: a request without an Action parameter.
    MISSING_ACTION = "MissingAction"


@dataclass(frozen=True)
class _Wire:
    namespace: str
    status: int
    query_code: str
    query_status: int
    server_fault: bool = False


# Statuses: the Data Pipeline guide reports PipelineNotFoundException with 400; the API
# reference gives InternalServiceError 500. AccessDeniedException is 400, as DynamoDB and
# the other JSON services answer it (the guide shows a 403 "not authorized" from an older
# front end; clients go by the code). DynamoDB, the same framework, answers every
# authentication error with 400. STS answers MissingAuthenticationToken,
# InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken and AccessDenied with 403,
# IncompleteSignature and validation errors with 400.
_WIRE: dict[ErrorCode, _Wire] = {
    ErrorCode.INTERNAL_SERVICE_ERROR: _Wire(_PIPELINE, 500, "InternalFailure", 500, True),
    ErrorCode.INVALID_REQUEST: _Wire(_PIPELINE, 400, "InvalidRequestException", 400),
    ErrorCode.PIPELINE_NOT_FOUND: _Wire(_PIPELINE, 400, "PipelineNotFoundException", 400),
    ErrorCode.PIPELINE_DELETED: _Wire(_PIPELINE, 400, "PipelineDeletedException", 400),
    ErrorCode.TASK_NOT_FOUND: _Wire(_PIPELINE, 400, "TaskNotFoundException", 400),
    ErrorCode.ACCESS_DENIED: _Wire(_SERVICE, 400, "AccessDenied", 403),
    ErrorCode.THROTTLING: _Wire(_AVAILABILITY, 400, "Throttling", 400),
    ErrorCode.UNKNOWN_OPERATION: _Wire(_SERVICE, 400, "InvalidAction", 400),
    ErrorCode.SERIALIZATION: _Wire(_SERVICE, 400, "MalformedInput", 400),
    ErrorCode.VALIDATION: _Wire(_VALIDATE, 400, "ValidationError", 400),
    ErrorCode.MISSING_AUTHENTICATION_TOKEN: _Wire(_SERVICE, 400, "MissingAuthenticationToken", 403),
    ErrorCode.INCOMPLETE_SIGNATURE: _Wire(_SERVICE, 400, "IncompleteSignature", 400),
    ErrorCode.INVALID_SIGNATURE: _Wire(_SERVICE, 400, "SignatureDoesNotMatch", 403),
    ErrorCode.UNRECOGNIZED_CLIENT: _Wire(_SERVICE, 400, "InvalidClientTokenId", 403),
    ErrorCode.EXPIRED_TOKEN: _Wire(_SERVICE, 400, "ExpiredToken", 403),
    ErrorCode.MISSING_ACTION: _Wire(_SERVICE, 400, "MissingAction", 400),
}


class ApiError(DdbpipeError):
    """A request the service refuses or could not serve: an AWS error code and message.

    ``code`` and ``status`` are the JSON protocol's; ``query_code`` and ``query_status``
    name the same error on the query protocol (STS).
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.error_code = code
        self.message = message
        super().__init__(code, message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @property
    def code(self) -> str:
        """The error code: the part of ``__type`` after ``#``."""
        return self.error_code.value

    @property
    def namespace(self) -> str:
        """The ``__type`` namespace the real service uses for this error."""
        return _WIRE[self.error_code].namespace

    @property
    def status(self) -> int:
        """The HTTP status on the JSON protocol."""
        return _WIRE[self.error_code].status

    @property
    def query_code(self) -> str:
        """The error code on the query protocol."""
        return _WIRE[self.error_code].query_code

    @property
    def query_status(self) -> int:
        """The HTTP status on the query protocol."""
        return _WIRE[self.error_code].query_status

    @property
    def server_fault(self) -> bool:
        """True when the service, not the request, is at fault."""
        return _WIRE[self.error_code].server_fault


def render_json_error(error: ApiError) -> bytes:
    """The JSON 1.1 body for ``error``; send it with ``error.status`` and
    ``JSON_CONTENT_TYPE``."""
    return orjson.dumps({"__type": f"{error.namespace}#{error.code}", "message": error.message})


INTERNAL_MESSAGE = "An internal error occurred; the server's log has the details"


def api_error_for(error: DdbpipeError) -> ApiError:
    """The API error for a ddbpipe error a handler let through: the one seam where the
    library's errors become the service's.

    An ``ApiError`` stays as it is; an unknown or deleted pipeline is
    ``PipelineNotFoundException`` or ``PipelineDeletedException``; a configuration or
    data error is the request's fault (``InvalidRequestException`` with its message); an
    access refusal is
    ``AccessDeniedException``; throttling ``ThrottlingException``; anything else
    an ``InternalServiceError`` whose details stay in the server's log.
    """
    if isinstance(error, ApiError):
        return error
    if isinstance(error, PipelineNotFoundError):
        if error.deleted:
            return ApiError(
                ErrorCode.PIPELINE_DELETED, f"Pipeline with id {error.pipeline_id} was deleted"
            )
        return ApiError(
            ErrorCode.PIPELINE_NOT_FOUND, f"Pipeline with id {error.pipeline_id} does not exist"
        )
    if isinstance(error, ConfigError | DataError):
        return ApiError(ErrorCode.INVALID_REQUEST, str(error))
    if isinstance(error, AccessDeniedError):
        return ApiError(ErrorCode.ACCESS_DENIED, str(error))
    if isinstance(error, ThrottledError):
        return ApiError(ErrorCode.THROTTLING, "Rate exceeded")
    return ApiError(ErrorCode.INTERNAL_SERVICE_ERROR, INTERNAL_MESSAGE)
