"""The fault proxy's side towards the server: requests forwarded exactly as clients sent them.

A request goes upstream with the same target, the same headers in the same order and spelling
and the same body, so that the server checks the client's SigV4 signature as if there were no
proxy. Only hop-by-hop headers (which belong to one connection) are left out, and a body the
client sent chunked goes with a Content-Length.
"""

from __future__ import annotations

import http.client
import select
import threading
import time

from tests.support.aws_wire import ProxyResponse

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
UPSTREAM_TIMEOUT_S = 120.0
UPSTREAM_POOL_SIZE = 64
UPSTREAM_IDLE_S = 2.0
"""Idle upstream connections older than this are not reused (node closes them after 5 s)."""


class Upstream:
    """Kept-alive HTTP/1.1 connections to the upstream server, one request at a time each;
    ``http.client`` adds no header of its own to what it is given."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._lock = threading.Lock()
        self._idle: list[tuple[float, http.client.HTTPConnection]] = []

    def exchange(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> ProxyResponse:
        """Send one request; return the whole response (its body undecoded)."""
        connection = self._take()
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(body or None)
            upstream = connection.getresponse()
            data = upstream.read()
        except BaseException:
            connection.close()
            raise
        if upstream.will_close:
            connection.close()
        else:
            self._give_back(connection)
        kept = [
            (name, value)
            for name, value in upstream.getheaders()
            if name.lower() not in HOP_BY_HOP_HEADERS and name.lower() not in SERVER_SET_HEADERS
        ]
        declared = upstream.getheader("Content-Length") if method == "HEAD" else None
        return ProxyResponse(
            upstream.status,
            upstream.reason,
            kept,
            data,
            declared_length=int(declared) if declared and declared.isdigit() else None,
        )

    def _take(self) -> http.client.HTTPConnection:
        """A recently used connection that the server has not closed, or a new one."""
        now = time.monotonic()
        with self._lock:
            while self._idle:
                since, connection = self._idle.pop()
                if now - since < UPSTREAM_IDLE_S and not _is_closed(connection):
                    return connection
                connection.close()
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=UPSTREAM_TIMEOUT_S)

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
        """Keep ``connection`` for the next request, or close it if enough are idle."""
        with self._lock:
            if len(self._idle) < UPSTREAM_POOL_SIZE:
                self._idle.append((time.monotonic(), connection))
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for _, connection in idle:
            connection.close()


def _is_closed(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by the server (it reads as ready)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def end_to_end_headers(headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """The request headers to forward, in order: all but hop-by-hop ones, with a
    Content-Length giving ``body``'s length where the client framed a body."""
    named_in_connection = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    framed = False
    forwarded: list[tuple[str, str]] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            if not framed:
                forwarded.append((name, str(len(body))))
            framed = True
        elif lowered == "transfer-encoding":
            framed = True
        elif lowered not in HOP_BY_HOP_HEADERS and lowered not in named_in_connection:
            forwarded.append((name, value))
    if framed and not any(name.lower() == "content-length" for name, _ in forwarded):
        forwarded.append(("Content-Length", str(len(body))))
    return forwarded


__all__ = ["HOP_BY_HOP_HEADERS", "Upstream", "end_to_end_headers"]
