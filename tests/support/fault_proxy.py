"""A fault-injecting HTTP proxy for DynamoDB and S3, and its pytest fixture.

Local DynamoDB and S3 servers never throttle, fail or cut a download short. ``FaultProxy``
sits in front of one (moto server, dynalite, ``rclone serve s3``) on a free 127.0.0.1 port
and forwards each request byte for byte, headers included, so that signatures still check
(``proxy_upstream``). It tells the two protocols apart: DynamoDB's JSON 1.0 by the
``X-Amz-Target`` header, S3's REST operations by method, path-style URL and query string
(``aws_wire``). Into the requests its rules pick (``fault_rules``) it injects faults, each
written in the service's own format: throttling (DynamoDB
ProvisionedThroughputExceededException, S3 503 SlowDown), errors with any status and code
(DynamoDB JSON, S3 XML), a dropped connection before or after forwarding, a response body
cut short, or part of a BatchWriteItem returned as ``UnprocessedItems`` (``batch_split``).

``FaultRules`` draws faults at random rates from a seeded generator, in the order requests
arrive, so a sequential client sees the same faults on every run. ``ExactRule`` faults
exactly the requests it picks ("let 4 BatchWriteItem through, then throttle every one") and
counts them. The proxy also logs the ``ConsumedCapacity`` that forwarded DynamoDB responses
report, with the time each arrived.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import io
import json
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest

from tests.support.aws_wire import (
    ADMIN_OPERATIONS,
    JSON_CONTENT_TYPE,
    ProxyRequest,
    ProxyResponse,
    consumed_capacity,
    dynamodb_error,
    dynamodb_request_id,
    error_response,
    read_request,
    s3_error,
    s3_error_resource,
)
from tests.support.batch_split import parse_batch, split_batch, split_batch_at
from tests.support.capacity_log import CapacityLog, CapacityRecord, peak_capacity
from tests.support.fault_rules import (
    CutBody,
    Drop,
    ErrorReply,
    ExactRule,
    FaultAction,
    FaultDecider,
    FaultDecision,
    FaultRules,
    RuleStats,
    Throttle,
    Unprocessed,
)
from tests.support.proxy_upstream import Upstream, end_to_end_headers
from tests.support.servers import Endpoint

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
THROTTLE_TYPE = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
INTERNAL_ERROR_TYPE = "com.amazonaws.dynamodb.v20120810#InternalServerError"


@dataclass(frozen=True)
class FaultStats:
    """What the proxy has done so far (a snapshot)."""

    requests: int = 0
    """Requests received from clients."""
    connections: int = 0
    """Client connections accepted."""
    forwarded: int = 0
    """Requests sent upstream, whole or in part, including those faulted after forwarding."""
    throttled: int = 0
    """Requests answered with a throttling error without forwarding."""
    errors_before: int = 0
    """Requests answered with an error without forwarding."""
    errors_after: int = 0
    """Requests forwarded, then answered with an error."""
    dropped_before: int = 0
    """Connections closed without forwarding the request."""
    dropped_after: int = 0
    """Connections closed after forwarding the request."""
    partial_batches: int = 0
    """BatchWriteItem requests answered with injected UnprocessedItems."""
    unprocessed_items: int = 0
    """Write requests returned in injected UnprocessedItems."""
    cut_bodies: int = 0
    """Responses whose body was cut short before the connection closed."""

    @property
    def faults(self) -> int:
        """Requests that got a fault of any kind."""
        return (
            self.throttled
            + self.errors_before
            + self.errors_after
            + self.dropped_before
            + self.dropped_after
            + self.partial_batches
            + self.cut_bodies
        )


class _ProxyServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers its open client connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.open_connections.add(request)
        self.proxy._count("connections")
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Shut down every client connection still open."""
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _ProxyHandler(BaseHTTPRequestHandler):
    """Handles one client connection: HTTP/1.1 requests with keep-alive."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def do_POST(self) -> None:
        self._proxy()

    def do_GET(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def _proxy(self) -> None:
        """Read the request, let the proxy handle it, and send its answer or drop."""
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        headers = list(self.headers.items())
        response = self.server.proxy._respond(self.command, self.path, headers, body)
        if response is None:
            self._drop_connection()
            return
        self._send(response)

    def _read_body(self) -> bytes:
        """The request body, by Content-Length or chunked transfer encoding."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: ProxyResponse) -> None:
        """Write ``response`` with a Content-Length; keep the connection open unless cut."""
        length = response.declared_length
        try:
            self.send_response(response.status, response.reason)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header(
                "Content-Length", str(len(response.body) if length is None else length)
            )
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body[: response.cut_at])
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        if response.cut_at is not None:
            self.close_connection = True

    def _drop_connection(self) -> None:
        """Close the client connection at once, with a TCP reset and no response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.rfile.close()
            self.wfile.close()
        self.wfile = io.BytesIO()
        with contextlib.suppress(OSError):
            self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``FaultProxy.stats`` instead."""


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of a local DynamoDB or S3 server, injecting faults.

    ``rules`` (random rates) and ``exact_rules`` may be replaced while the proxy runs; new
    rules start afresh (see ``FaultDecider``). ``stats`` counts across all rules,
    ``rule_stats`` per exact rule. ``clock`` times the capacity log.
    """

    def __init__(
        self,
        upstream_url: str,
        rules: FaultRules | None = None,
        exact_rules: Sequence[ExactRule] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
            raise ValueError(
                f"upstream must be http://127.0.0.1:<port> or http://localhost:<port>, "
                f"not {upstream_url!r}"
            )
        self.upstream_url = upstream_url
        self._upstream = Upstream(parts.port)
        self._decider = FaultDecider(rules or FaultRules(), exact_rules)
        self._capacity = CapacityLog(clock)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(
            (stat.name for stat in dataclasses.fields(FaultStats)), 0
        )
        self._failures: list[BaseException] = []
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen on a free 127.0.0.1 port and serve in background threads."""
        if self._server is not None:
            return self
        server = _ProxyServer(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fault-proxy-{server.server_address[1]}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, close client connections and the upstream connections."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_open_connections()
        if thread is not None:
            thread.join(timeout=5.0)
        self._upstream.close()
        self._server = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The proxy's base URL, ``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("the fault proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def via(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` with its requests going through this proxy."""
        return dataclasses.replace(endpoint, name=f"{endpoint.name}+faults", url=self.url)

    # --- rules, stats and capacity ------------------------------------------------------

    @property
    def rules(self) -> FaultRules:
        """The random rules in force."""
        return self._decider.rules

    @rules.setter
    def rules(self, rules: FaultRules) -> None:
        self._decider.rules = rules

    @property
    def exact_rules(self) -> tuple[ExactRule, ...]:
        """The exact rules in force, in the order they are checked."""
        return self._decider.exact_rules

    @exact_rules.setter
    def exact_rules(self, rules: Sequence[ExactRule]) -> None:
        self._decider.exact_rules = rules

    def rule_stats(self, rule: ExactRule) -> RuleStats:
        """How many requests ``rule`` matched and faulted while in force."""
        return self._decider.rule_stats(rule)

    @property
    def stats(self) -> FaultStats:
        """A snapshot of the counters."""
        with self._lock:
            return FaultStats(**self._counts)

    @property
    def failures(self) -> tuple[BaseException, ...]:
        """Exceptions raised while handling requests (by a rule's predicate, say)."""
        with self._lock:
            return tuple(self._failures)

    def capacity_log(
        self, operation: str | None = None, table: str | None = None
    ) -> tuple[CapacityRecord, ...]:
        """The ConsumedCapacity of forwarded DynamoDB responses, oldest first."""
        return self._capacity.records(operation, table)

    def peak_capacity(
        self, seconds: float, operation: str | None = None, table: str | None = None
    ) -> float:
        """The most capacity consumed in any window ``seconds`` long (see ``peak_capacity``)."""
        return peak_capacity(self._capacity.records(operation, table), seconds)

    def _count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name``."""
        with self._lock:
            self._counts[name] += amount

    # --- request handling ---------------------------------------------------------------

    def _respond(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> ProxyResponse | None:
        """The answer to one client request, or None to drop the connection."""
        self._count("requests")
        request = read_request(method, target, headers, body)
        try:
            return self._handle(request)
        except Exception as error:
            with self._lock:
                self._failures.append(error)
            return error_response(request.service, 500, "FaultProxyError", repr(error))

    def _handle(self, request: ProxyRequest) -> ProxyResponse | None:
        """Forward ``request`` or fault it, as the rules decide."""
        batch = parse_batch(request.body) if request.operation == "BatchWriteItem" else None
        decision = self._decider.decide(request, can_split=batch is not None)
        if decision is None:
            return self._forward(request)
        action = decision.action
        if isinstance(action, Throttle):
            self._count("throttled")
            return _throttle_response(request)
        if isinstance(action, Unprocessed):
            assert batch is not None
            return self._partial_batch(request, batch, action, decision)
        if isinstance(action, CutBody):
            return self._cut_body(request, action, decision)
        if action.after:
            self._forward(request)
        if isinstance(action, ErrorReply):
            self._count("errors_after" if action.after else "errors_before")
            return _error_reply(request, action)
        self._count("dropped_after" if action.after else "dropped_before")
        return None

    def _forward(
        self,
        request: ProxyRequest,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> ProxyResponse:
        """Send the request upstream (with other headers or body if given) and return its
        response, or a 502 if that fails; log the capacity a DynamoDB response reports."""
        self._count("forwarded")
        body = request.body if body is None else body
        outgoing = end_to_end_headers(list(request.headers) if headers is None else headers, body)
        try:
            response = self._upstream.exchange(request.method, request.target, outgoing, body)
        except (OSError, http.client.HTTPException) as error:
            message = f"fault proxy could not reach {self.upstream_url}: {error!r}"
            return error_response(request.service, 502, "FaultProxyUpstreamError", message)
        if request.service == "dynamodb" and request.operation and response.status == 200:
            self._capacity.add(
                request.operation, consumed_capacity(response.body, response.headers)
            )
        return response

    def _cut_body(
        self, request: ProxyRequest, action: CutBody, decision: FaultDecision
    ) -> ProxyResponse:
        """Forward, then answer with all headers and only part of the body."""
        response = self._forward(request)
        size = len(response.body)
        if action.keep_bytes is not None:
            keep = min(action.keep_bytes, max(size - 1, 0))
        else:
            keep = int(random.Random(decision.seed).random() * size)
        self._count("cut_bodies")
        return dataclasses.replace(response, cut_at=keep)

    def _partial_batch(
        self,
        request: ProxyRequest,
        batch: dict[str, Any],
        action: Unprocessed,
        decision: FaultDecision,
    ) -> ProxyResponse:
        """Forward part of a BatchWriteItem; answer with the rest as UnprocessedItems."""
        if action.forward is None:
            forwarded, withheld = split_batch(batch["RequestItems"], random.Random(decision.seed))
        else:
            forwarded, withheld = split_batch_at(batch["RequestItems"], action.forward)
        withheld_count = sum(len(writes) for writes in withheld.values())
        if forwarded:
            upstream_body = json.dumps({**batch, "RequestItems": forwarded}).encode()
            upstream_headers = [
                (name, value)
                for name, value in request.headers
                if name.lower() != "accept-encoding"
            ]
            upstream_headers.append(("Accept-Encoding", "identity"))
            upstream = self._forward(request, upstream_headers, upstream_body)
            if upstream.status != 200:
                return upstream
            answer = json.loads(upstream.body)
            response_headers = [
                (name, value)
                for name, value in upstream.headers
                if name.lower() not in ("x-amz-crc32", "content-encoding")
            ]
        else:
            answer = {"UnprocessedItems": {}}
            if batch.get("ReturnConsumedCapacity", "NONE") != "NONE":
                answer["ConsumedCapacity"] = [
                    {"TableName": table, "CapacityUnits": 0.0} for table in withheld
                ]
            response_headers = [
                ("Content-Type", JSON_CONTENT_TYPE),
                ("x-amzn-RequestId", dynamodb_request_id()),
            ]
        unprocessed: dict[str, list[Any]] = dict(answer.get("UnprocessedItems") or {})
        for table, writes in withheld.items():
            unprocessed[table] = [*unprocessed.get(table, []), *writes]
        answer["UnprocessedItems"] = unprocessed
        body = json.dumps(answer).encode()
        response_headers.append(("x-amz-crc32", str(zlib.crc32(body))))
        self._count("partial_batches")
        self._count("unprocessed_items", withheld_count)
        return ProxyResponse(200, "OK", response_headers, body)


def _throttle_response(request: ProxyRequest) -> ProxyResponse:
    """The service's throttling answer: DynamoDB's 400, S3's 503 SlowDown."""
    if request.service == "s3":
        return s3_error(503, "SlowDown")
    return dynamodb_error(400, "ProvisionedThroughputExceededException")


def _error_reply(request: ProxyRequest, action: ErrorReply) -> ProxyResponse:
    """The error ``action`` asks for, as ``request``'s service writes it."""
    if request.service == "s3":
        resource = s3_error_resource(action.code, request)
        return s3_error(action.status, action.code, action.message, resource)
    return dynamodb_error(action.status, action.code, action.message)


class FaultProxyFactory(Protocol):
    """Starts a ``FaultProxy`` in front of an endpoint (or a loopback URL)."""

    def __call__(
        self,
        endpoint: Endpoint | str,
        rules: FaultRules | None = None,
        exact_rules: Sequence[ExactRule] = (),
    ) -> FaultProxy: ...


@pytest.fixture(name="fault_proxy")
def fault_proxy_fixture() -> Iterator[FaultProxyFactory]:
    """A function ``make(endpoint, rules, exact_rules)`` that starts a ``FaultProxy``; all
    stop at teardown, which fails if a proxy raised while handling a request."""
    proxies: list[FaultProxy] = []

    def make(
        endpoint: Endpoint | str,
        rules: FaultRules | None = None,
        exact_rules: Sequence[ExactRule] = (),
    ) -> FaultProxy:
        url = endpoint.url if isinstance(endpoint, Endpoint) else endpoint
        proxy = FaultProxy(url, rules, exact_rules)
        proxies.append(proxy)
        return proxy.start()

    yield make
    for proxy in reversed(proxies):
        proxy.stop()
    failures = [failure for proxy in proxies for failure in proxy.failures]
    if failures:
        pytest.fail(f"the fault proxy raised while handling requests: {failures!r}")


__all__ = [
    "ADMIN_OPERATIONS",
    "INTERNAL_ERROR_TYPE",
    "THROTTLE_TYPE",
    "CapacityRecord",
    "CutBody",
    "Drop",
    "ErrorReply",
    "ExactRule",
    "FaultAction",
    "FaultDecision",
    "FaultProxy",
    "FaultProxyFactory",
    "FaultRules",
    "FaultStats",
    "ProxyRequest",
    "RuleStats",
    "Throttle",
    "Unprocessed",
    "fault_proxy_fixture",
    "peak_capacity",
]
