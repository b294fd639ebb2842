"""A fault-injecting HTTP proxy for the DynamoDB JSON 1.0 protocol, and its pytest fixture.

Local DynamoDB servers never throttle, fail or leave ``UnprocessedItems``. ``FaultProxy``
sits in front of one (moto server or dynalite) on a free 127.0.0.1 port, forwards requests
unchanged, and, as its ``FaultRules`` decide, answers some of them with a throttling error or
an internal server error, drops the connection, or forwards only part of a BatchWriteItem and
returns the rest as ``UnprocessedItems``. Decisions come from a random generator seeded by
``FaultRules.seed`` and are drawn in the order requests arrive, so a sequential client sees the
same faults on every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import random
import secrets
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import pytest
import urllib3

from tests.support.servers import Endpoint

Timing = Literal["before", "after", "random"]
FaultKind = Literal["throttle", "error", "drop", "unprocessed"]

TARGET_PREFIX = "DynamoDB_20120810."
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
ADMIN_OPERATIONS = frozenset({"DescribeTable", "CreateTable", "DeleteTable", "ListTables"})

THROTTLE_TYPE = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
THROTTLE_MESSAGE = "The level of configured provisioned throughput for the table was exceeded."
INTERNAL_ERROR_TYPE = "com.amazonaws.dynamodb.v20120810#InternalServerError"
INTERNAL_ERROR_MESSAGE = "Internal server error"

HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
SERVER_SET_HEADERS = frozenset({"content-length", "date", "server"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
UPSTREAM_TIMEOUT = urllib3.Timeout(connect=5.0, read=120.0)
UPSTREAM_POOL_SIZE = 64


@dataclass(frozen=True)
class FaultRules:
    """Which faults the proxy injects, how often, and into which operations.

    For each request to an operation that faults apply to, the proxy draws one number per
    rate, in the order throttle, error, drop, unprocessed, and injects the first fault whose
    rate exceeds its draw (``unprocessed`` only for BatchWriteItem), until ``max_faults``
    faults have been injected. All rates are probabilities in [0, 1].
    """

    throttle_rate: float = 0.0
    """Answer HTTP 400 ProvisionedThroughputExceededException without forwarding."""
    error_rate: float = 0.0
    """Answer HTTP 500 InternalServerError, before or after forwarding (see error_timing)."""
    drop_rate: float = 0.0
    """Close the client connection without a response, before or after forwarding."""
    unprocessed_rate: float = 0.0
    """BatchWriteItem: forward a random subset, return the rest as UnprocessedItems."""
    operations: frozenset[str] | None = None
    """Operations faults apply to; None means all but DescribeTable, CreateTable,
    DeleteTable and ListTables. Requests without a DynamoDB target never get faults."""
    seed: int = 0
    """Seed of the generator that makes every fault decision."""
    max_faults: int | None = None
    """Stop injecting after this many faults in total; None means no limit."""
    error_timing: Timing = "random"
    """Whether an injected error answers before forwarding, after it, or either at random."""
    drop_timing: Timing = "random"
    """Whether an injected drop happens before forwarding, after it, or either at random."""

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "error_rate", "drop_rate", "unprocessed_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate!r}")
        if self.max_faults is not None and self.max_faults < 0:
            raise ValueError(f"max_faults must not be negative, not {self.max_faults!r}")
        for name in ("error_timing", "drop_timing"):
            if getattr(self, name) not in ("before", "after", "random"):
                raise ValueError(f"{name} must be 'before', 'after' or 'random'")

    def applies_to(self, operation: str | None) -> bool:
        """Whether faults may be injected into a request for ``operation``."""
        if operation is None:
            return False
        if self.operations is None:
            return operation not in ADMIN_OPERATIONS
        return operation in self.operations


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
    """Requests answered with ProvisionedThroughputExceededException."""
    errors_before: int = 0
    """Requests answered with InternalServerError without forwarding."""
    errors_after: int = 0
    """Requests forwarded, then answered with InternalServerError."""
    dropped_before: int = 0
    """Connections closed without forwarding the request."""
    dropped_after: int = 0
    """Connections closed after forwarding the request."""
    partial_batches: int = 0
    """BatchWriteItem requests answered with injected UnprocessedItems."""
    unprocessed_items: int = 0
    """Write requests returned in injected UnprocessedItems."""

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
        )


@dataclass(frozen=True)
class FaultDecision:
    """The fault chosen for one request."""

    kind: FaultKind
    after: bool = False
    """For errors and drops: whether the request is forwarded first."""
    subset_seed: int = 0
    """For unprocessed: the seed choosing which write requests are forwarded."""


@dataclass
class _DecisionState:
    """The generator and fault budget belonging to one set of rules."""

    rules: FaultRules
    rng: random.Random = field(init=False)
    faults: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.rules.seed)


@dataclass
class _Response:
    """An HTTP response to send to the client."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


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
        headers = [(name, value) for name, value in self.headers.items()]
        response = self.server.proxy._handle(self.command, self.path, headers, body)
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

    def _send(self, response: _Response) -> None:
        """Write ``response`` with a Content-Length, keeping the connection open."""
        try:
            self.send_response(response.status, response.reason)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:
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
    """An HTTP proxy on 127.0.0.1 in front of a local DynamoDB server, injecting faults.

    ``rules`` may be replaced while the proxy runs; new rules start a fresh generator from
    their seed and a fresh ``max_faults`` budget. ``stats`` counts across all rules.
    """

    def __init__(self, upstream_url: str, rules: FaultRules | None = None) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
            raise ValueError(
                f"upstream must be http://127.0.0.1:<port> or http://localhost:<port>, "
                f"not {upstream_url!r}"
            )
        self.upstream_url = upstream_url
        self._upstream = urllib3.HTTPConnectionPool(
            "127.0.0.1",
            parts.port,
            maxsize=UPSTREAM_POOL_SIZE,
            block=False,
            timeout=UPSTREAM_TIMEOUT,
            retries=False,
        )
        self._lock = threading.Lock()
        self._state = _DecisionState(rules or FaultRules())
        self._counts: dict[str, int] = dict.fromkeys(
            (stat.name for stat in dataclasses.fields(FaultStats)), 0
        )
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
        """Stop listening, close client connections and the upstream pool."""
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

    # --- rules and stats ----------------------------------------------------------------

    @property
    def rules(self) -> FaultRules:
        """The rules in force."""
        with self._lock:
            return self._state.rules

    @rules.setter
    def rules(self, rules: FaultRules) -> None:
        with self._lock:
            self._state = _DecisionState(rules)

    @property
    def stats(self) -> FaultStats:
        """A snapshot of the counters."""
        with self._lock:
            return FaultStats(**self._counts)

    def _count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name``."""
        with self._lock:
            self._counts[name] += amount

    def _decide(self, operation: str | None, can_split: bool) -> FaultDecision | None:
        """The fault for the next request to ``operation``, or None; counts it if any."""
        with self._lock:
            state = self._state
            rules = state.rules
            if not rules.applies_to(operation):
                return None
            if rules.max_faults is not None and state.faults >= rules.max_faults:
                return None
            rng = state.rng
            throttle, error, drop, unprocessed, timing = (rng.random() for _ in range(5))
            subset_seed = rng.getrandbits(64)
            decision: FaultDecision | None = None
            if throttle < rules.throttle_rate:
                decision = FaultDecision("throttle")
            elif error < rules.error_rate:
                decision = FaultDecision("error", after=_is_after(rules.error_timing, timing))
            elif drop < rules.drop_rate:
                decision = FaultDecision("drop", after=_is_after(rules.drop_timing, timing))
            elif can_split and unprocessed < rules.unprocessed_rate:
                decision = FaultDecision("unprocessed", subset_seed=subset_seed)
            if decision is not None:
                state.faults += 1
            return decision

    # --- request handling ---------------------------------------------------------------

    def _handle(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> _Response | None:
        """The answer to one client request, or None to drop the connection."""
        self._count("requests")
        operation = _operation(headers)
        batch = _parse_batch(body) if operation == "BatchWriteItem" else None
        decision = self._decide(operation, can_split=batch is not None)
        if decision is None:
            return self._forward(method, path, headers, body)
        if decision.kind == "throttle":
            self._count("throttled")
            return _error_response(400, "Bad Request", THROTTLE_TYPE, THROTTLE_MESSAGE)
        if decision.kind == "unprocessed":
            assert batch is not None
            return self._partial_batch(method, path, headers, batch, decision.subset_seed)
        if decision.after:
            self._forward(method, path, headers, body)
        if decision.kind == "error":
            self._count("errors_after" if decision.after else "errors_before")
            return _error_response(
                500, "Internal Server Error", INTERNAL_ERROR_TYPE, INTERNAL_ERROR_MESSAGE
            )
        self._count("dropped_after" if decision.after else "dropped_before")
        return None

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> _Response:
        """Send the request upstream and return its response, or a 502 if that fails."""
        self._count("forwarded")
        request_headers = _end_to_end(headers)
        request_headers["Content-Length"] = str(len(body))
        try:
            upstream = self._upstream.urlopen(
                method,
                path,
                body=body,
                headers=request_headers,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
            )
            try:
                data = upstream.read(decode_content=False)
            finally:
                upstream.release_conn()
        except urllib3.exceptions.HTTPError as error:
            message = f"fault proxy could not reach {self.upstream_url}: {error}"
            return _error_response(502, "Bad Gateway", "FaultProxyUpstreamError", message)
        response_headers = [
            (name, value)
            for name, value in upstream.headers.items()
            if name.lower() not in HOP_BY_HOP_HEADERS and name.lower() not in SERVER_SET_HEADERS
        ]
        return _Response(upstream.status, upstream.reason or "", response_headers, data)

    def _partial_batch(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        request: dict[str, Any],
        subset_seed: int,
    ) -> _Response:
        """Forward part of a BatchWriteItem; answer with the rest as UnprocessedItems."""
        forwarded, withheld = _split_batch(request["RequestItems"], random.Random(subset_seed))
        withheld_count = sum(len(writes) for writes in withheld.values())
        if forwarded:
            upstream_body = json.dumps({**request, "RequestItems": forwarded}).encode()
            upstream_headers = [
                (name, value) for name, value in headers if name.lower() != "accept-encoding"
            ]
            upstream_headers.append(("Accept-Encoding", "identity"))
            upstream = self._forward(method, path, upstream_headers, upstream_body)
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
            if request.get("ReturnConsumedCapacity", "NONE") != "NONE":
                answer["ConsumedCapacity"] = [
                    {"TableName": table, "CapacityUnits": 0.0} for table in withheld
                ]
            response_headers = [
                ("Content-Type", JSON_CONTENT_TYPE),
                ("x-amzn-RequestId", _request_id()),
            ]
        unprocessed: dict[str, list[Any]] = dict(answer.get("UnprocessedItems") or {})
        for table, writes in withheld.items():
            unprocessed[table] = [*unprocessed.get(table, []), *writes]
        answer["UnprocessedItems"] = unprocessed
        body = json.dumps(answer).encode()
        response_headers.append(("x-amz-crc32", str(zlib.crc32(body))))
        self._count("partial_batches")
        self._count("unprocessed_items", withheld_count)
        return _Response(200, "OK", response_headers, body)


def _is_after(timing: Timing, draw: float) -> bool:
    """Whether a fault with ``timing`` happens after forwarding, given a uniform draw."""
    if timing == "random":
        return draw >= 0.5
    return timing == "after"


def _operation(headers: list[tuple[str, str]]) -> str | None:
    """The DynamoDB operation named by the X-Amz-Target header, if any."""
    for name, value in headers:
        if name.lower() == "x-amz-target" and value.startswith(TARGET_PREFIX):
            return value[len(TARGET_PREFIX) :]
    return None


def _parse_batch(body: bytes) -> dict[str, Any] | None:
    """A BatchWriteItem request body, or None if it is not a well-formed one."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    items = request.get("RequestItems")
    if not isinstance(items, dict) or not items:
        return None
    if not all(isinstance(writes, list) and writes for writes in items.values()):
        return None
    return request


def _split_batch(
    request_items: dict[str, list[Any]], rng: random.Random
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Split each table's write requests into forwarded and withheld, keeping order.

    Each table forwards a random number (0 to all) of its requests; at least one request
    in the whole batch is withheld. Tables with nothing to forward or withhold are left out.
    """
    keep: dict[str, set[int]] = {}
    for table, writes in request_items.items():
        count = rng.randint(0, len(writes))
        keep[table] = set(rng.sample(range(len(writes)), count))
    if all(len(keep[table]) == len(writes) for table, writes in request_items.items()):
        table = rng.choice(sorted(request_items))
        keep[table].discard(rng.choice(sorted(keep[table])))
    forwarded: dict[str, list[Any]] = {}
    withheld: dict[str, list[Any]] = {}
    for table, writes in request_items.items():
        sent = [write for index, write in enumerate(writes) if index in keep[table]]
        held = [write for index, write in enumerate(writes) if index not in keep[table]]
        if sent:
            forwarded[table] = sent
        if held:
            withheld[table] = held
    return forwarded, withheld


def _end_to_end(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The request headers to forward: all but hop-by-hop ones and Content-Length."""
    named_in_connection = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    forwarded: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in HOP_BY_HOP_HEADERS or lowered in named_in_connection:
            continue
        if lowered == "content-length":
            continue
        forwarded[name] = value
    return forwarded


def _request_id() -> str:
    """A DynamoDB-style request id."""
    return secrets.token_hex(26).upper()


def _error_response(status: int, reason: str, error_type: str, message: str) -> _Response:
    """A DynamoDB JSON error response."""
    body = json.dumps({"__type": error_type, "message": message}).encode()
    headers = [
        ("Content-Type", JSON_CONTENT_TYPE),
        ("x-amzn-RequestId", _request_id()),
        ("x-amz-crc32", str(zlib.crc32(body))),
    ]
    return _Response(status, reason, headers, body)


class FaultProxyFactory(Protocol):
    """Starts a ``FaultProxy`` in front of an endpoint (or a loopback URL)."""

    def __call__(self, endpoint: Endpoint | str, rules: FaultRules | None = None) -> FaultProxy: ...


@pytest.fixture(name="fault_proxy")
def fault_proxy_fixture() -> Iterator[FaultProxyFactory]:
    """A function ``make(endpoint, rules)`` that starts a ``FaultProxy``; all stop at teardown."""
    proxies: list[FaultProxy] = []

    def make(endpoint: Endpoint | str, rules: FaultRules | None = None) -> FaultProxy:
        url = endpoint.url if isinstance(endpoint, Endpoint) else endpoint
        proxy = FaultProxy(url, rules)
        proxies.append(proxy)
        return proxy.start()

    yield make
    for proxy in reversed(proxies):
        proxy.stop()


__all__ = [
    "ADMIN_OPERATIONS",
    "INTERNAL_ERROR_TYPE",
    "THROTTLE_TYPE",
    "FaultDecision",
    "FaultProxy",
    "FaultProxyFactory",
    "FaultRules",
    "FaultStats",
    "fault_proxy_fixture",
]
