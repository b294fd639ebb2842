"""One kept-alive HTTP/1.1 connection that POSTs a body and reads the whole response.

DynamoDB's JSON protocol needs only this much of HTTP: one POST at a time, responses
with ``Content-Length`` (or chunked), keep-alive. Doing just that costs less CPU per
request than ``http.client``, whose header parsing goes through the ``email`` package —
and at 25 items per BatchWriteItem, request overhead is most of an import's CPU.
"""

from __future__ import annotations

import socket
import ssl
from typing import BinaryIO

__all__ = ["HttpConnection", "HttpProtocolError", "StaleConnectionError"]

_MAX_LINE = 65536
_MAX_HEADERS = 200


class HttpProtocolError(OSError):
    """The server's answer was not valid HTTP/1.1."""


class StaleConnectionError(ConnectionResetError):
    """A kept-alive connection was closed by the server before it answered."""


class HttpConnection:
    """A connection to ``host:port``; opened on first use, reopened after a close."""

    def __init__(self, host: str, port: int, *, https: bool, timeout: float) -> None:
        self.host = host
        self.port = port
        self.https = https
        self.timeout = timeout
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None
        self.requests = 0  # answered on the current connection

    def _open(self) -> tuple[socket.socket, BinaryIO]:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self._socket, self._reader = sock, sock.makefile("rb")
        self.requests = 0
        return sock, self._reader

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        if self._reader is not None:
            self._reader.close()
        if self._socket is not None:
            self._socket.close()
        self._socket = self._reader = None

    def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """Send ``body`` and return ``(status, response body)``.

        Raises ``StaleConnectionError`` when a reused connection turns out closed (the
        request may be sent again on a new one), other ``OSError`` on network failure.
        """
        reused = self._socket is not None
        if self._socket is None or self._reader is None:
            sock, reader = self._open()
        else:
            sock, reader = self._socket, self._reader
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST {path} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        try:
            sock.sendall(request.encode("latin-1") + body)
            status_line = reader.readline(_MAX_LINE)
            if not status_line:
                raise ConnectionResetError("the server closed the connection without answering")
            status, data, keep_alive = _read_response(status_line, reader)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.close()
            if reused and self.requests > 0:
                raise StaleConnectionError(str(exc)) from exc
            raise
        except BaseException:
            self.close()
            raise
        self.requests += 1
        if not keep_alive:
            self.close()
        return status, data


def _read_response(status_line: bytes, reader: BinaryIO) -> tuple[int, bytes, bool]:
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP status line: {status_line[:80]!r}")
    status = int(parts[1])
    keep_alive = parts[0] != b"HTTP/1.0"
    length: int | None = None
    chunked = False
    for _ in range(_MAX_HEADERS):
        line = reader.readline(_MAX_LINE)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = b"close" not in value.lower()
    else:
        raise HttpProtocolError("too many response headers")
    if chunked:
        return status, _read_chunked(reader), keep_alive
    if length is None:
        return status, reader.read(), False  # the body ends when the connection does
    data = reader.read(length)
    if len(data) != length:
        raise ConnectionResetError(f"response cut short: {len(data)} of {length} bytes")
    return status, data, keep_alive


def _read_chunked(reader: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = reader.readline(_MAX_LINE)
        if not size_line:
            raise ConnectionResetError("chunked response cut short")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while reader.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunk = reader.read(size)
        if len(chunk) != size:
            raise ConnectionResetError("chunked response cut short")
        chunks.append(chunk)
        reader.readline(_MAX_LINE)
