"""One API request from bytes to bytes: Data Pipeline (JSON 1.1) and STS (query) on one
port.

The protocol is chosen by the service the request is signed for (the credential
scope), or for an unsigned request by its form: a form body or an ``Action`` query
parameter is STS, anything else Data Pipeline. Every request is verified with
``sigv4.verify`` against the identity store; a Data Pipeline request then goes through
the steps ``ddbpipe.server.operations`` describes. Every response carries
``x-amzn-RequestId``; JSON responses also ``x-amz-crc32`` (the CRC32 of the body, as
the Data Pipeline guide says the service sends). Errors are rendered in the protocol
of the request: ``{"__type": "<namespace>#<Code>", "message": ...}`` or STS's
``ErrorResponse`` XML.
"""

from __future__ import annotations

import inspect
import logging
import re
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

import anyio.to_thread
import orjson

from ddbpipe.errors import DdbpipeError
from ddbpipe.server import sts
from ddbpipe.server.authorization import (
    NO_KEYS,
    AuthorizationKeys,
    Caller,
    RequestFacts,
    authorize,
    decide,
)
from ddbpipe.server.clock import Clock
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.errors import (
    JSON_CONTENT_TYPE,
    ApiError,
    ErrorCode,
    api_error_for,
    render_json_error,
)
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import Call, Operation, OperationTable, Output
from ddbpipe.server.rate_limits import RateLimiter
from ddbpipe.server.shapes import SERVICE_NAME, TARGET_PREFIXES, operation_names, validate_input
from ddbpipe.server.sigv4 import VerifiedRequest, verify

__all__ = ["ApiRequest", "ApiResponse", "ApiService", "Protocol", "protocol_of"]

logger = logging.getLogger("ddbpipe.server")

Protocol = Literal["json", "sts"]
_JSON_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json")
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_STS_SERVICE = "sts"
T = TypeVar("T")


@dataclass(frozen=True)
class ApiRequest:
    """A request as it arrived: raw path and query (still percent-encoded), headers as
    (name, value) pairs, the body, whether it came over TLS and from where."""

    method: str
    raw_path: bytes
    query: bytes
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes = b""
    secure: bool = False
    client_ip: str | None = None

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (the first, when repeated)."""
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None


@dataclass
class ApiResponse:
    """What to send back, and what to log of it (``operation`` and ``caller`` are known
    once the request got that far)."""

    status: int
    body: bytes
    content_type: str
    request_id: str
    operation: str | None = None
    caller: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Trace:
    request_id: str
    protocol: Protocol
    operation: str | None = None
    caller: str | None = None


def protocol_of(request: ApiRequest) -> Protocol:
    """Which protocol a request speaks; see the module doc."""
    scope = _signed_service(request)
    if scope is not None:
        return "sts" if scope == _STS_SERVICE else "json"
    content_type = (request.header("content-type") or "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        return "sts"
    if b"Action=" in request.query:
        return "sts"
    return "json"


def _signed_service(request: ApiRequest) -> str | None:
    authorization = request.header("authorization")
    credential = None
    if authorization is not None:
        match = _CREDENTIAL.search(authorization)
        credential = match.group(1) if match else None
    else:
        for item in request.query.decode("latin-1").split("&"):
            name, _, value = item.partition("=")
            if name == "X-Amz-Credential":
                credential = value.replace("%2F", "/").replace("%2f", "/")
    parts = credential.split("/") if credential else []
    return parts[3] if len(parts) == 5 else None


async def _run(function: Callable[[Call], T | Awaitable[T]], call: Call) -> T:
    """Await a coroutine function; run a plain one in a worker thread."""
    if inspect.iscoroutinefunction(function):
        result = await function(call)
    else:
        result = await anyio.to_thread.run_sync(function, call)
    if inspect.isawaitable(result):
        result = await result
    return cast(T, result)


class ApiService:
    """Answers API requests for one server; see the module doc."""

    def __init__(
        self,
        config: ServerConfig,
        store: IdentityStore,
        operations: OperationTable,
        clock: Clock,
    ) -> None:
        self.config = config
        self.store = store
        self.operations = operations
        self.clock = clock
        self.limiter = RateLimiter(config.rate_limits, clock.monotonic)

    async def handle(self, request: ApiRequest) -> ApiResponse:
        """The response to ``request``; never raises for a bad request."""
        trace = _Trace(str(uuid.uuid4()), protocol_of(request))
        try:
            if trace.protocol == "sts":
                return await anyio.to_thread.run_sync(self._sts, request, trace)
            if self._plain(request):
                # Verifying, authorising and handling in one worker thread: one hand-over
                # a request instead of three.
                return await anyio.to_thread.run_sync(self._serve, request, trace)
            operation, call = await anyio.to_thread.run_sync(self._prepare, request, trace)
            return await self._dispatch(operation, call, trace)
        except Exception as error:  # every failure becomes the service's error
            return self.error_response(trace, _api_error(error, trace))

    def _plain(self, request: ApiRequest) -> bool:
        """Whether the request's operation (if any) has no coroutine to await."""
        target = request.header("x-amz-target") or ""
        operation = self.operations.get(target.rpartition(".")[2])
        return operation is not None and not (
            inspect.iscoroutinefunction(operation.handler)
            or inspect.iscoroutinefunction(operation.keys)
        )

    def _serve(self, request: ApiRequest, trace: _Trace) -> ApiResponse:
        """A request to a plain operation, from start to end, in this thread."""
        operation, call = self._prepare(request, trace)
        keys: Sequence[AuthorizationKeys] = ()
        if operation.keys is not None:
            keys = cast(Sequence[AuthorizationKeys], operation.keys(call))
        for each in keys or (NO_KEYS,):
            authorize(call.facts, call.action, each)
        output = cast(Output, operation.handler(call))
        return self._response(trace, 200, orjson.dumps(dict(output or {})), JSON_CONTENT_TYPE)

    def refuse(self, request: ApiRequest, error: ApiError) -> ApiResponse:
        """The response for a request refused before it was read whole."""
        return self.error_response(_Trace(str(uuid.uuid4()), protocol_of(request)), error)

    def error_response(self, trace: _Trace, error: ApiError) -> ApiResponse:
        """``error`` in the protocol of the request."""
        if trace.protocol == "sts":
            body = sts.render_error(error, trace.request_id)
            return self._response(trace, error.query_status, body, sts.XML_CONTENT_TYPE)
        return self._response(trace, error.status, render_json_error(error), JSON_CONTENT_TYPE)

    def _response(self, trace: _Trace, status: int, body: bytes, content_type: str) -> ApiResponse:
        headers = {"x-amzn-RequestId": trace.request_id}
        if content_type == JSON_CONTENT_TYPE:
            headers["x-amz-crc32"] = str(zlib.crc32(body) & 0xFFFFFFFF)
        return ApiResponse(
            status, body, content_type, trace.request_id, trace.operation, trace.caller, headers
        )

    # --- Data Pipeline ------------------------------------------------------------------

    def _verify(
        self, request: ApiRequest, service: str, regions: frozenset[str]
    ) -> tuple[VerifiedRequest[Any], Caller]:
        verified = verify(
            request.method,
            request.raw_path,
            request.query,
            request.headers,
            request.body,
            now=self.clock.now(),
            service=service,
            regions=regions,
            lookup=self.store.lookup_credential,
            debug=self.config.signature_hints,
        )
        caller = Caller(verified.principal, verified.access_key_id, verified.credential.temporary)
        return verified, caller

    def _prepare(self, request: ApiRequest, trace: _Trace) -> tuple[Operation, Call]:
        received_at = self.clock.now()
        _, caller = self._verify(request, SERVICE_NAME, self.config.api_regions)
        trace.caller = caller.name
        name = _operation_name(request)
        trace.operation = name
        operation = self.operations.get(name)
        if operation is None:
            raise ApiError(
                ErrorCode.UNKNOWN_OPERATION, f"Operation {name} is not available on this server"
            )
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise ApiError(
                ErrorCode.SERIALIZATION,
                f"Content-Type '{content_type}' is not supported; send {JSON_CONTENT_TYPE}",
            )
        self.limiter.take(caller.arn, name)
        checked = validate_input(name, _decode(request.body))
        facts = RequestFacts(caller, received_at, request.secure, request.client_ip)
        return operation, Call(name, checked, trace.request_id, facts)

    async def _dispatch(self, operation: Operation, call: Call, trace: _Trace) -> ApiResponse:
        keys: Sequence[AuthorizationKeys] = ()
        if operation.keys is not None:
            keys = await _run(operation.keys, call)
        for each in keys or (NO_KEYS,):
            authorize(call.facts, call.action, each)
        output: Output = await _run(operation.handler, call)
        body = orjson.dumps(dict(output or {}))
        return self._response(trace, 200, body, JSON_CONTENT_TYPE)

    # --- STS ----------------------------------------------------------------------------

    def _sts(self, request: ApiRequest, trace: _Trace) -> ApiResponse:
        verified, caller = self._verify(request, _STS_SERVICE, self.config.sts_regions)
        trace.caller = caller.name
        sts_request = sts.parse_request(request.body, request.query)
        trace.operation = sts_request.action
        now = self.clock.now()
        principal = caller.principal
        if sts_request.action == "GetCallerIdentity":
            identity = sts.CallerIdentity(principal.arn, principal.unique_id, principal.account_id)
            body = sts.render_caller_identity(identity, trace.request_id)
        else:
            facts = RequestFacts(caller, now, request.secure, request.client_ip)
            decision = decide(facts, "sts:GetSessionToken")
            if decision.explicit_deny:  # no permission is needed, but a Deny holds
                authorize(facts, "sts:GetSessionToken")
            made = sts.get_session_token(sts_request, caller_temporary=caller.temporary, now=now)
            self.store.add_session(verified.access_key_id, made)
            body = sts.render_session_token(made, trace.request_id)
        return self._response(trace, 200, body, sts.XML_CONTENT_TYPE)


def _operation_name(request: ApiRequest) -> str:
    target = request.header("x-amz-target")
    if not target:
        raise ApiError(ErrorCode.UNKNOWN_OPERATION, "Missing X-Amz-Target header")
    for prefix in TARGET_PREFIXES:
        if target.startswith(prefix) and target[len(prefix) :] in operation_names():
            return target[len(prefix) :]
    raise ApiError(ErrorCode.UNKNOWN_OPERATION, f"Unknown operation {target}")


def _decode(body: bytes) -> object:
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(
            ErrorCode.SERIALIZATION, f"The request body is not valid JSON: {error}"
        ) from None


def _api_error(error: Exception, trace: _Trace) -> ApiError:
    if isinstance(error, DdbpipeError):
        mapped = api_error_for(error)
        if mapped.server_fault:
            logger.error(
                "request %s: %s failed: %s",
                trace.request_id,
                trace.operation,
                error,
                exc_info=error,
            )
        return mapped
    logger.error(
        "request %s: %s failed unexpectedly", trace.request_id, trace.operation, exc_info=error
    )
    return api_error_for(DdbpipeError(str(error)))
