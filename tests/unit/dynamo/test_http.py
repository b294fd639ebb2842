"""The HTTP/1.1 subset DynamoDB needs, against a scripted server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ddbpipe.dynamo.http import HttpConnection, HttpProtocolError, StaleConnectionError


class ScriptedServer:
    """Answers each accepted connection's requests with the next scripted replies."""

    def __init__(self, script: list[list[bytes | None]]) -> None:
        # Per connection, the replies to its requests, then the connection is closed;
        # None closes it without answering.
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for replies in self.script:
            conn, _ = self.listener.accept()
            with conn, conn.makefile("rb") as reader:  # closed after the last reply
                for reply in replies:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        head += reader.readline()
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    self.requests.append(head + reader.read(length))
                    if reply is None:
                        break
                    conn.sendall(reply)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for server in servers:
        server.close()


def connect(servers: list[ScriptedServer], script: list[list[bytes | None]]) -> HttpConnection:
    server = ScriptedServer(script)
    servers.append(server)
    return HttpConnection("127.0.0.1", server.port, https=False, timeout=5)


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_keep_alive_reuses_one_connection(serve: list[ScriptedServer]) -> None:
    connection = connect(serve, [[OK, OK, OK]])
    for _ in range(3):
        assert connection.post("/", {"Host": "h", "X-Amz-Target": "T.Scan"}, b"{}") == (200, b"{}")
    request = serve[0].requests[0]
    assert request.startswith(b"POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: T.Scan\r\n")
    assert request.endswith(b"Content-Length: 2\r\n\r\n{}")


def test_chunked_bodies_and_error_statuses(serve: list[ScriptedServer]) -> None:
    chunked = (
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    )
    connection = connect(serve, [[chunked, OK]])
    assert connection.post("/", {}, b"x") == (400, b"hello world")
    assert connection.post("/", {}, b"y") == (200, b"{}")


def test_connection_close_and_http_1_0_open_a_new_connection(serve: list[ScriptedServer]) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb"
    connection = connect(serve, [[closing], [old], [OK]])
    assert connection.post("/", {}, b"1") == (200, b"a")
    assert connection.post("/", {}, b"2") == (200, b"b")
    assert connection.post("/", {}, b"3") == (200, b"{}")
    assert len(serve[0].requests) == 3


def test_a_stale_kept_alive_connection_is_reported_as_such(serve: list[ScriptedServer]) -> None:
    connection = connect(serve, [[OK, None], [OK]])
    assert connection.post("/", {}, b"1") == (200, b"{}")
    with pytest.raises(StaleConnectionError):
        connection.post("/", {}, b"2")
    assert connection.post("/", {}, b"2") == (200, b"{}")  # on a new connection


def test_a_first_request_that_gets_no_answer_is_not_stale(serve: list[ScriptedServer]) -> None:
    connection = connect(serve, [[None]])
    with pytest.raises(ConnectionResetError) as caught:
        connection.post("/", {}, b"1")
    assert not isinstance(caught.value, StaleConnectionError)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"SMTP ready\r\n\r\n", HttpProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", ConnectionResetError),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe", ConnectionResetError),
    ],
)
def test_broken_answers_raise(serve: list[ScriptedServer], reply: bytes, error: type) -> None:
    connection = connect(serve, [[reply]])
    with pytest.raises(error):
        connection.post("/", {}, b"1")
