"""Signed DynamoDB requests whose bodies move as bytes.

botocore's response parser and request serializer cost about 40 µs per item; a Scan
page parsed with orjson costs a few. So this client keeps from botocore only what must
be right — credentials, region, endpoint resolution and SigV4 signing — and moves the
JSON bodies itself, over one kept-alive connection per thread (``ddbpipe.dynamo.http``).
"""

from __future__ import annotations

import hashlib
import math
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotocoreConfig
from botocore.credentials import Credentials

from ddbpipe.dynamo.errors import map_connection_error, map_response_error
from ddbpipe.dynamo.http import HttpConnection, StaleConnectionError
from ddbpipe.errors import ConfigError, EndpointUnreachableError
from ddbpipe.sessions import (
    AnySession,
    StaticCredentials,
    make_client,
    new_session,
    region_problems,
    session_region,
)

__all__ = ["DEFAULT_TIMEOUT", "DynamoClient", "DynamoConfig"]

DEFAULT_TIMEOUT = 60.0
_API_VERSION = "DynamoDB_20120810"
_CONTENT_TYPE = "application/x-amz-json-1.0"
_PAYLOAD_HASH = "ddbpipe_payload_sha256"


@dataclass(frozen=True)
class DynamoConfig:
    """Where a table lives: region, profile and an optional endpoint override.

    ``credentials`` (set by a job started with a session of the caller's) take the place
    of the profile's.
    """

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    credentials: StaticCredentials | None = None

    def problems(self) -> list[str]:
        """Every invalid setting, in the words of the command line."""
        problems = region_problems("DynamoDB", self.region)
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            problems.append(f"timeout must be a positive number of seconds, got {self.timeout}")
        return problems


def _host_header(host: str, port: int | None, https: bool) -> str:
    """The Host header (which is signed) for an endpoint: no port when it is the default."""
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == (443 if https else 80):
        return host
    return f"{host}:{port}"


class _BodyHashSigV4(SigV4Auth):
    """botocore's SigV4 signer, handed the body's hash rather than preparing the request
    again to compute it."""

    def payload(self, request: AWSRequest) -> str:
        digest: str = request.context[_PAYLOAD_HASH]
        return digest


class DynamoClient:
    """Send DynamoDB JSON API calls; raises errors from ``ddbpipe.errors``.

    The session (botocore's or boto3's) is injected; ``DynamoClient.from_config`` makes
    one. The client
    is safe to share between threads; give each worker process its own.
    """

    def __init__(
        self,
        session: AnySession,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        resolved = region or session_region(session)
        if not resolved:
            raise ConfigError("no AWS region is set for DynamoDB")
        if problems := region_problems("DynamoDB", resolved):
            raise ConfigError(problems)
        self.region: str = resolved
        if endpoint_url is None:
            # botocore resolves the regional endpoint; its client is used for nothing else.
            no_retries = BotocoreConfig(retries={"max_attempts": 0})
            resolver = make_client(session, "dynamodb", region_name=resolved, config=no_retries)
            endpoint_url = resolver.meta.endpoint_url
        self.endpoint_url = endpoint_url.rstrip("/") + "/"
        credentials = session.get_credentials()
        if credentials is None:
            raise ConfigError(
                "no AWS credentials found: set a profile (--profile), environment variables "
                "or an instance role"
            )
        self._credentials: Credentials = credentials
        parts = urlsplit(self.endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"endpoint {endpoint_url!r} is not an http(s) URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self._host_header = _host_header(parts.hostname, parts.port, self._https)
        self._timeout = timeout
        self._local = threading.local()
        self._answered = False

    @classmethod
    def from_config(cls, config: DynamoConfig, session: AnySession | None = None) -> DynamoClient:
        """A client for ``config``, with a new boto3 session unless one is given."""
        if problems := config.problems():
            raise ConfigError(problems)
        session = session or new_session(config.profile, config.credentials)
        return cls(
            session, region=config.region, endpoint_url=config.endpoint_url, timeout=config.timeout
        )

    def _signed_headers(self, operation: str, body: bytes) -> dict[str, str]:
        credentials = self._credentials.get_frozen_credentials()
        request = AWSRequest(
            method="POST",
            url=self.endpoint_url,
            data=body,
            headers={
                "Host": self._host_header,
                "Content-Type": _CONTENT_TYPE,
                "X-Amz-Target": f"{_API_VERSION}.{operation}",
            },
        )
        request.context[_PAYLOAD_HASH] = hashlib.sha256(body).hexdigest()
        _BodyHashSigV4(credentials, "dynamodb", self.region).add_auth(request)
        return dict(request.headers.items())

    def _connection(self) -> HttpConnection:
        """This thread's connection."""
        connection: HttpConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = HttpConnection(
                self._host, self._port, https=self._https, timeout=self._timeout
            )
            self._local.connection = connection
        return connection

    def request(self, operation: str, body: bytes, *, resource: str = "") -> bytes:
        """Send one call with a JSON ``body``; return the raw JSON response body.

        ``resource`` (usually the table name) is named in errors.
        """
        headers = self._signed_headers(operation, body)
        connection = self._connection()
        while True:
            try:
                status, data = connection.post(self._path, headers, body)
                break
            except StaleConnectionError:
                continue  # the server closed a kept-alive connection: send on a new one
            except (ConnectionRefusedError, socket.gaierror) as exc:
                if not self._answered:  # never reached: a wrong endpoint, not a passing fault
                    reason = "connection refused"
                    if isinstance(exc, socket.gaierror):
                        reason = f"cannot resolve {self._host} ({exc.strerror})"
                    raise EndpointUnreachableError("DynamoDB", self.endpoint_url, reason) from exc
                raise map_connection_error(operation, self.endpoint_url, exc) from exc
            except (OSError, ValueError) as exc:
                raise map_connection_error(operation, self.endpoint_url, exc) from exc
        self._answered = True
        if status != 200:
            raise map_response_error(operation, status, data, resource=resource, region=self.region)
        return data

    def call(self, operation: str, params: dict[str, Any], *, resource: str = "") -> dict[str, Any]:
        """Send one call with ``params``; return the parsed response."""
        parsed: dict[str, Any] = orjson.loads(
            self.request(operation, orjson.dumps(params), resource=resource)
        )
        return parsed

    def close(self) -> None:
        """Close this thread's connection."""
        connection: HttpConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
