"""The ASGI app of ``ddbpipe serve``.

``POST /`` is the API (Data Pipeline and STS, ``ddbpipe.server.api``); its body is read
up to the configured limit and refused past it. The web console, when given, serves
``/console`` (and sends ``GET /`` there). Every other path and method gets one error
handler, which answers an API client (a request with ``X-Amz-Target`` or a JSON content
type) with a JSON error, a console path with the console's error page, and anyone else
with a small HTML page. Each request is
logged as one line on the ``ddbpipe.server`` logger: method, operation, caller, status,
milliseconds and request ID.

Background services (the pipeline engine's scheduler) start with the app and stop, in
reverse order, when the server shuts down, as uvicorn does on SIGTERM after finishing
the requests in flight.
"""

from __future__ import annotations

import contextlib
import html
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ddbpipe.server.api import ApiRequest, ApiResponse, ApiService
from ddbpipe.server.clock import SYSTEM_CLOCK, Clock
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.errors import JSON_CONTENT_TYPE, ApiError, ErrorCode, render_json_error
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import OperationTable

__all__ = ["BackgroundService", "ConsoleRoutes", "create_app"]

logger = logging.getLogger("ddbpipe.server")


class BackgroundService(Protocol):
    """Something that runs beside the API while the server is up."""

    async def start(self) -> None:
        """Start; the server accepts requests once every service has started."""

    async def stop(self) -> None:
        """Stop, once the server has stopped taking requests."""


class ConsoleRoutes(BackgroundService, Protocol):
    """The web console: its routes under ``prefix``, its error page, and what it
    closes when the server stops."""

    prefix: str

    def routes(self) -> Sequence[BaseRoute]:
        """The console's routes."""
        ...

    def error_page(self, request: Request, status: int, detail: str) -> Response:
        """The page for an error on a console path."""
        ...


_DRAIN_FACTOR = 4


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or ``_BodyTooLarge`` past ``limit`` bytes. A body that is too large is
    still read (and dropped) up to ``_DRAIN_FACTOR`` times the limit, so that the
    client, still sending, gets the error rather than a broken connection."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit * _DRAIN_FACTOR:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise _BodyTooLarge
    return b"".join(chunks)


def _api_request(request: Request, body: bytes) -> ApiRequest:
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    client = scope.get("client")
    return ApiRequest(
        method=request.method,
        raw_path=raw_path,
        query=scope.get("query_string", b""),
        headers=list(scope["headers"]),
        body=body,
        secure=scope.get("scheme") == "https",
        client_ip=client[0] if client else None,
    )


def _log(method: str, response: ApiResponse, started: float) -> None:
    elapsed = (time.perf_counter() - started) * 1000
    logger.info(
        "%s %s %s %d %.1fms %s",
        method,
        response.operation or "-",
        response.caller or "-",
        response.status,
        elapsed,
        response.request_id,
    )


def _wants_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return "x-amz-target" in request.headers or "json" in content_type


def _error_handler(console: ConsoleRoutes | None) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        return await _http_error(request, exc, console)

    return handle


async def _http_error(
    request: Request, exc: Exception, console: ConsoleRoutes | None = None
) -> Response:
    """The one error page: JSON for API clients, the console's page on its paths, HTML
    for people."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal Server Error"
    if not isinstance(exc, HTTPException):
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    if _wants_json(request):
        code = ErrorCode.UNKNOWN_OPERATION if status < 500 else ErrorCode.INTERNAL_SERVICE_ERROR
        body = render_json_error(ApiError(code, f"{detail}: {request.method} {request.url.path}"))
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}  # as on every API answer
        return Response(body, status_code=status, media_type=JSON_CONTENT_TYPE, headers=headers)
    if console is not None and request.url.path.startswith(console.prefix):
        return console.error_page(request, status, str(detail))
    page = (
        "<!doctype html><html><head><title>ddbpipe</title></head><body>"
        f"<h1>{status} {html.escape(str(detail))}</h1>"
        "<p>This is the AWS Data Pipeline API of ddbpipe: send requests with an AWS SDK or "
        "the AWS CLI and <code>--endpoint-url</code>.</p></body></html>"
    )
    return HTMLResponse(page, status_code=status)


def create_app(
    config: ServerConfig,
    store: IdentityStore,
    operations: OperationTable,
    *,
    clock: Clock = SYSTEM_CLOCK,
    services: Sequence[BackgroundService] = (),
    console: ConsoleRoutes | None = None,
) -> Starlette:
    """The server's ASGI app: the API answering ``operations`` for the identities in
    ``store``, with ``services`` running beside it, and the web ``console`` when given."""
    service = ApiService(config, store, operations, clock)

    async def api(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await _read_body(request, config.max_body_bytes)
            response = await service.handle(_api_request(request, body))
        except _BodyTooLarge:
            error = ApiError(
                ErrorCode.INVALID_REQUEST,
                f"The request body is larger than {config.max_body_bytes} bytes",
            )
            response = service.refuse(_api_request(request, b""), error)
        _log(request.method, response, started)
        return Response(
            response.body,
            status_code=response.status,
            headers=response.headers,
            media_type=response.content_type,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # At most ``threads`` requests in worker threads at once; the rest wait in
        # arrival order (anyio's limiter queues them first come, first served).
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.threads
        started: list[BackgroundService] = []
        try:
            for background in [*services, *([console] if console is not None else [])]:
                await background.start()
                started.append(background)
            yield
        finally:
            for background in reversed(started):
                await background.stop()

    routes: list[BaseRoute] = [Route("/", api, methods=["POST"])]
    if console is not None:
        routes += console.routes()
    handler = _error_handler(console)
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: handler, Exception: handler},
        lifespan=lifespan,
    )
