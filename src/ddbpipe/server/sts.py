"""The part of the STS query protocol the server speaks: GetSessionToken and
GetCallerIdentity.

Requests carry form-encoded parameters
(``Action=GetSessionToken&Version=2011-06-15&DurationSeconds=3600``) in the body, or in
the query string of a presigned request. Responses and errors are XML documents in the
shape botocore's query parser reads: ``<Action>Response`` holding ``<Action>Result`` and
``ResponseMetadata/RequestId``, and ``ErrorResponse`` holding ``Error/Type,Code,Message``
and ``RequestId``; send them with ``XML_CONTENT_TYPE`` (errors with
``ApiError.query_status``). Nothing here stores credentials: the caller keeps what
``get_session_token`` makes.
"""

from __future__ import annotations

import base64
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from ddbpipe.server.errors import ApiError, ErrorCode

__all__ = [
    "ACTIONS",
    "DEFAULT_DURATION_SECONDS",
    "MAX_DURATION_SECONDS",
    "MIN_DURATION_SECONDS",
    "STS_NAMESPACE",
    "STS_VERSION",
    "XML_CONTENT_TYPE",
    "CallerIdentity",
    "SessionCredentials",
    "StsRequest",
    "get_session_token",
    "new_session_credentials",
    "parse_request",
    "render_caller_identity",
    "render_error",
    "render_session_token",
    "session_duration",
]

STS_VERSION = "2011-06-15"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
XML_CONTENT_TYPE = "text/xml"
ACTIONS = ("GetCallerIdentity", "GetSessionToken")
# GetSessionToken's limits for an IAM user's session (STS API reference).
DEFAULT_DURATION_SECONDS = 43200
MIN_DURATION_SECONDS = 900
MAX_DURATION_SECONDS = 129600
_EXPIRATION = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class StsRequest:
    """One STS call: its action and its other parameters."""

    action: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class SessionCredentials:
    """A new temporary credential: an ``ASIA`` access key, its secret and session token,
    and when it expires (whole seconds, UTC)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime


@dataclass(frozen=True)
class CallerIdentity:
    """Who signed a request, as GetCallerIdentity reports it."""

    arn: str
    user_id: str
    account: str


def parse_request(body: bytes, query: str | bytes = b"") -> StsRequest:
    """The action and parameters of an STS request, from its form body and query string.

    The signature's own query parameters (``X-Amz-*``) are left out. Raises ``ApiError``
    for a missing action, an action this server does not offer or another API version.
    """
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    params: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if not name.startswith("X-Amz-"):
            params[name] = value
    params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    action = params.pop("Action", "")
    version = params.pop("Version", "")
    if not action:
        raise ApiError(ErrorCode.MISSING_ACTION, "Missing Action")
    if action not in ACTIONS or version != STS_VERSION:
        raise ApiError(
            ErrorCode.UNKNOWN_OPERATION, f"Could not find operation {action} for version {version}"
        )
    return StsRequest(action, params)


def session_duration(request: StsRequest) -> timedelta:
    """How long GetSessionToken's credentials last: ``DurationSeconds``, 900 to 129,600
    seconds, 43,200 when not given."""
    raw = request.params.get("DurationSeconds")
    if raw is None:
        return timedelta(seconds=DEFAULT_DURATION_SECONDS)
    prefix = f"1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy "
    if not raw.isdigit():
        raise ApiError(ErrorCode.VALIDATION, prefix + "constraint: Member must be an integer")
    seconds = int(raw)
    if seconds < MIN_DURATION_SECONDS:
        raise ApiError(
            ErrorCode.VALIDATION,
            prefix + f"constraint: Member must have value greater than or equal to "
            f"{MIN_DURATION_SECONDS}",
        )
    if seconds > MAX_DURATION_SECONDS:
        raise ApiError(
            ErrorCode.VALIDATION,
            prefix + f"constraint: Member must have value less than or equal to "
            f"{MAX_DURATION_SECONDS}",
        )
    return timedelta(seconds=seconds)


def new_session_credentials(
    *,
    now: datetime,
    duration: timedelta,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> SessionCredentials:
    """A new temporary credential that expires ``duration`` after ``now``.

    ``random_bytes(n)`` supplies the randomness (``secrets.token_bytes`` unless a test
    passes its own): 80 bits for the key ID, 240 for the secret, 768 for the token.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return SessionCredentials(
        access_key_id="ASIA" + base64.b32encode(random_bytes(10)).decode(),
        secret_access_key=base64.b64encode(random_bytes(30)).decode(),
        session_token=base64.b64encode(random_bytes(96)).decode(),
        expiration=(now + duration).astimezone(UTC).replace(microsecond=0),
    )


def get_session_token(
    request: StsRequest,
    *,
    caller_temporary: bool,
    now: datetime,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> SessionCredentials:
    """Answer GetSessionToken: new credentials for a caller who signed with a permanent
    key. A caller using session credentials is refused, as STS does; so is a request for
    MFA, which this server does not keep."""
    if caller_temporary:
        raise ApiError(
            ErrorCode.ACCESS_DENIED, "Cannot call GetSessionToken with session credentials"
        )
    if "SerialNumber" in request.params or "TokenCode" in request.params:
        raise ApiError(
            ErrorCode.ACCESS_DENIED,
            "MultiFactorAuthentication failed: this server has no MFA devices",
        )
    duration = session_duration(request)
    return new_session_credentials(now=now, duration=duration, random_bytes=random_bytes)


def _document(
    action: str, fields: Mapping[str, str], request_id: str, *, group: str | None = None
) -> bytes:
    """``<action>Response``: the result's fields (inside ``group`` when given), then the
    request ID."""
    root = ET.Element(f"{action}Response", xmlns=STS_NAMESPACE)
    parent = ET.SubElement(root, f"{action}Result")
    if group is not None:
        parent = ET.SubElement(parent, group)
    for name, text in fields.items():
        ET.SubElement(parent, name).text = text
    metadata = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(metadata, "RequestId").text = request_id
    return ET.tostring(root, encoding="unicode").encode()


def render_session_token(credentials: SessionCredentials, request_id: str) -> bytes:
    """The GetSessionTokenResponse XML for ``credentials``."""
    return _document(
        "GetSessionToken",
        {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "Expiration": credentials.expiration.astimezone(UTC).strftime(_EXPIRATION),
        },
        request_id,
        group="Credentials",
    )


def render_caller_identity(identity: CallerIdentity, request_id: str) -> bytes:
    """The GetCallerIdentityResponse XML for ``identity``."""
    return _document(
        "GetCallerIdentity",
        {"Arn": identity.arn, "UserId": identity.user_id, "Account": identity.account},
        request_id,
    )


def render_error(error: ApiError, request_id: str) -> bytes:
    """The ErrorResponse XML for ``error``, under its query protocol code."""
    root = ET.Element("ErrorResponse", xmlns=STS_NAMESPACE)
    detail = ET.SubElement(root, "Error")
    ET.SubElement(detail, "Type").text = "Receiver" if error.server_fault else "Sender"
    ET.SubElement(detail, "Code").text = error.query_code
    ET.SubElement(detail, "Message").text = error.message
    ET.SubElement(root, "RequestId").text = request_id
    return ET.tostring(root, encoding="unicode").encode()
