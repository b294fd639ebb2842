"""Verify AWS Signature Version 4 on the requests the server receives.

``verify`` rebuilds the canonical request from what arrived — the method, the raw path
and query, the headers named in ``SignedHeaders`` with their received values, and the
SHA-256 of the body received — the way botocore builds it when it signs
(``ddbpipe.server.canonical``), derives the
signing key from the stored secret and compares signatures in constant time. It accepts
the ``Authorization`` header and presigned query parameters, and checks, in the order the
real services do: the parts of the signature, the timestamp (five minutes either way),
``host`` being signed, the algorithm, the credential scope (date, region, service,
terminator), that every ``x-amz-*`` header is signed, the access key, the payload hash,
the signature, and last the session token of a temporary credential and its expiry.

Every refusal is an ``ApiError`` with the code and message AWS sends for it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar
from urllib.parse import unquote

from ddbpipe.server.canonical import (
    ALGORITHM,
    TERMINATOR,
    Headers,
    canonical_request,
    header_map,
    query_pairs,
    signature,
    string_to_sign,
)
from ddbpipe.server.errors import ApiError, ErrorCode

__all__ = [
    "MAX_CLOCK_SKEW",
    "MAX_PRESIGNED_EXPIRES",
    "Headers",
    "StoredCredential",
    "VerifiedRequest",
    "verify",
]

MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_PRESIGNED_EXPIRES = 604800  # seconds: a week
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_TIMESTAMP_RE = re.compile(r"\d{8}T\d{6}Z")
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_INVALID_TOKEN = "The security token included in the request is invalid"

P = TypeVar("P")


@dataclass(frozen=True)
class StoredCredential(Generic[P]):
    """What the server keeps for one access key: the secret, and for a temporary
    credential its session token and expiry; ``principal`` says whose key it is."""

    secret_access_key: str = field(repr=False)
    principal: P
    session_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None

    def __post_init__(self) -> None:
        if self.expiration is not None and self.expiration.tzinfo is None:
            raise ValueError("expiration must be timezone-aware")

    @property
    def temporary(self) -> bool:
        """True for a session credential, which must come with its session token."""
        return self.session_token is not None


@dataclass(frozen=True)
class VerifiedRequest(Generic[P]):
    """A request whose signature checked out: who signed it, for which region, when."""

    access_key_id: str
    credential: StoredCredential[P]
    region: str
    signed_at: datetime

    @property
    def principal(self) -> P:
        """The principal the access key belongs to."""
        return self.credential.principal


@dataclass(frozen=True)
class _Auth:
    """The signature's parts, from the Authorization header or the query string."""

    algorithm: str
    credential: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    signed_at: datetime
    session_token: str | None
    presigned: bool
    expires: int | None  # presigned requests only: seconds the signature stays valid


def verify(
    method: str,
    path: str | bytes,
    query: str | bytes,
    headers: Headers,
    body: bytes,
    *,
    now: datetime,
    service: str,
    regions: Collection[str],
    lookup: Callable[[str], StoredCredential[P] | None],
    debug: bool = False,
) -> VerifiedRequest[P]:
    """Check a request's SigV4 signature; raises ``ApiError`` when it does not hold.

    ``path`` and ``query`` are as sent, still percent-encoded (an ASGI scope's
    ``raw_path`` and ``query_string``); ``body`` is the body received. ``now`` is the
    server's clock (timezone-aware), ``service`` the signing name the request must be
    scoped to (``datapipeline``, ``sts``), ``regions`` the regions accepted, and
    ``lookup`` finds the stored credential of an access key ID. With ``debug``, a
    signature mismatch names the canonical request and string to sign expected, as AWS
    does; they repeat the signed headers, session token included, so keep such messages
    out of shared logs.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    received = header_map(headers)
    params = query_pairs(query)
    auth = _read_auth(received, params)
    _check_time(auth, now)
    signed = {name.lower() for name in auth.signed_headers}
    if "host" not in signed:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    if auth.algorithm != ALGORITHM:
        raise ApiError(
            ErrorCode.INCOMPLETE_SIGNATURE,
            f"Unsupported AWS 'algorithm': '{auth.algorithm}' (only {ALGORITHM} for now).",
        )
    access_key_id, date, region = _check_scope(auth, service, regions)
    unsigned = sorted(n for n in received if n.startswith("x-amz-") and n not in signed)
    if unsigned:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            "There were headers present in the request which were not signed. "
            f"HeadersNotSigned: {', '.join(unsigned)}",
        )
    credential = lookup(access_key_id)
    if credential is None:
        raise ApiError(ErrorCode.UNRECOGNIZED_CLIENT, f"{_INVALID_TOKEN}.")
    if auth.presigned:
        params = [(n, v) for n, v in params if unquote(n) != "X-Amz-Signature"]
    canonical = canonical_request(
        method, path, params, auth.signed_headers, received, _payload_hash(received, body)
    )
    scope = f"{date}/{region}/{service}/{TERMINATOR}"
    to_sign = string_to_sign(auth.timestamp, scope, canonical)
    expected = signature(credential.secret_access_key, date, region, service, to_sign)
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        message = _SIGNATURE_MISMATCH
        if debug:
            message += (
                f"\n\nThe Canonical String for this request should have been\n'{canonical}'"
                f"\n\nThe String-to-Sign should have been\n'{to_sign}'\n"
            )
        raise ApiError(ErrorCode.INVALID_SIGNATURE, message)
    _check_session(credential, auth.session_token, now)
    return VerifiedRequest(access_key_id, credential, region, auth.signed_at)


def _one(received: Mapping[str, list[str]], name: str) -> str | None:
    values = received.get(name)
    return ",".join(values) if values else None


def _read_auth(received: Mapping[str, list[str]], params: list[tuple[str, str]]) -> _Auth:
    header = _one(received, "authorization")
    in_query = any(unquote(name) == "X-Amz-Algorithm" for name, _ in params)
    if header is not None and in_query:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as "
            "HTTP header.",
        )
    if in_query:
        return _auth_from_query(received, params)
    if header is None or not header.strip().startswith("AWS4-"):
        raise ApiError(
            ErrorCode.MISSING_AUTHENTICATION_TOKEN, "Request is missing Authentication Token"
        )
    return _auth_from_header(received, header)


def _auth_from_header(received: Mapping[str, list[str]], header: str) -> _Auth:
    algorithm, _, rest = header.strip().partition(" ")
    fields: dict[str, str] = {}
    for item in re.split(r"[,\s]+", rest):
        if item:
            key, equals, value = item.partition("=")
            if not equals:
                raise ApiError(
                    ErrorCode.INCOMPLETE_SIGNATURE,
                    f"'{key}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{header}'.",
                )
            fields[key] = value
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name) and not (name == "SignedHeaders" and name in fields)
    ]
    amz_date = _one(received, "x-amz-date")
    date = _one(received, "date")
    if amz_date is None and date is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise ApiError(
            ErrorCode.INCOMPLETE_SIGNATURE, " ".join(problems) + f" Authorization={header}"
        )
    signed_at = _parse_amz_date(amz_date) if amz_date is not None else _parse_http_date(date)
    return _Auth(
        algorithm=algorithm,
        credential=fields["Credential"],
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
        timestamp=signed_at.strftime(_TIMESTAMP),
        signed_at=signed_at,
        session_token=_one(received, "x-amz-security-token"),
        presigned=False,
        expires=None,
    )


def _auth_from_query(received: Mapping[str, list[str]], params: list[tuple[str, str]]) -> _Auth:
    values = {unquote(name): unquote(value) for name, value in params}
    required = (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    )
    missing = [
        f"AWS query-string parameters must include '{name}'."
        for name in required
        if not values.get(name)
    ]
    if missing:
        raise ApiError(
            ErrorCode.INCOMPLETE_SIGNATURE,
            " ".join(missing) + " Re-examine the query-string parameters.",
        )
    expires = values.get("X-Amz-Expires")
    if expires is not None and not (
        expires.isdigit() and 0 < int(expires) <= MAX_PRESIGNED_EXPIRES
    ):
        raise ApiError(
            ErrorCode.INCOMPLETE_SIGNATURE,
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES}, "
            f"not '{expires}'.",
        )
    signed_at = _parse_amz_date(values["X-Amz-Date"])
    return _Auth(
        algorithm=values["X-Amz-Algorithm"],
        credential=values["X-Amz-Credential"],
        signed_headers=tuple(values["X-Amz-SignedHeaders"].split(";")),
        signature=values["X-Amz-Signature"],
        timestamp=values["X-Amz-Date"],
        signed_at=signed_at,
        session_token=values.get("X-Amz-Security-Token") or _one(received, "x-amz-security-token"),
        presigned=True,
        expires=None if expires is None else int(expires),
    )


def _bad_date(value: str) -> ApiError:
    return ApiError(
        ErrorCode.INCOMPLETE_SIGNATURE,
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601",
    )


def _parse_amz_date(value: str) -> datetime:
    if not _TIMESTAMP_RE.fullmatch(value):
        raise _bad_date(value)
    try:  # the fields by position (what strptime would take, a good deal faster)
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        raise _bad_date(value) from None


def _parse_http_date(value: str | None) -> datetime:
    """The RFC 1123 ``Date`` header, used when there is no ``X-Amz-Date``."""
    try:
        parsed = parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        raise _bad_date(value or "") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _window(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


def _check_time(auth: _Auth, now: datetime) -> None:
    """Refuse a signature made too long ago or too far in the future."""
    now = now.astimezone(UTC)
    past = MAX_CLOCK_SKEW if auth.expires is None else timedelta(seconds=auth.expires)
    if auth.signed_at < now - past:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"Signature expired: {auth.timestamp} is now earlier than "
            f"{(now - past).strftime(_TIMESTAMP)} ({now.strftime(_TIMESTAMP)} - {_window(past)})",
        )
    if auth.signed_at > now + MAX_CLOCK_SKEW:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"Signature not yet current: {auth.timestamp} is still later than "
            f"{(now + MAX_CLOCK_SKEW).strftime(_TIMESTAMP)} ({now.strftime(_TIMESTAMP)} + "
            f"{_window(MAX_CLOCK_SKEW)})",
        )


def _check_scope(auth: _Auth, service: str, regions: Collection[str]) -> tuple[str, str, str]:
    """The access key ID, date and region of a credential scope that fits the request."""
    parts = auth.credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise ApiError(
            ErrorCode.INCOMPLETE_SIGNATURE,
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{auth.credential}'",
        )
    access_key_id, date, region, scoped_service, terminator = parts
    problems = []
    if region not in regions:
        problems.append(f"Credential should be scoped to a valid region, not '{region}'.")
    if scoped_service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'.")
    if terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'."
        )
    if date != auth.timestamp[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{auth.timestamp[:8]}', from '{auth.timestamp}'."
        )
    if problems:
        raise ApiError(ErrorCode.INVALID_SIGNATURE, " ".join(problems))
    return access_key_id, date, region


def _payload_hash(received: Mapping[str, list[str]], body: bytes) -> str:
    """The payload hash to sign: the body's, or the X-Amz-Content-SHA256 that matches it."""
    actual = hashlib.sha256(body).hexdigest()
    declared = _one(received, "x-amz-content-sha256")
    if declared is None:
        return actual
    if declared == _UNSIGNED_PAYLOAD or declared.startswith("STREAMING-"):
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"The request body must be signed: X-Amz-Content-SHA256 '{declared}' is not accepted.",
        )
    if declared.lower() != actual:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return declared


def _check_session(credential: StoredCredential[P], token: str | None, now: datetime) -> None:
    """A temporary credential needs its own session token and must not have expired; a
    permanent one takes no token."""
    expected = credential.session_token
    if expected is None:
        if token is not None:
            raise ApiError(ErrorCode.UNRECOGNIZED_CLIENT, _INVALID_TOKEN)
    elif token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(ErrorCode.UNRECOGNIZED_CLIENT, _INVALID_TOKEN)
    if credential.expiration is not None and now >= credential.expiration:
        raise ApiError(
            ErrorCode.EXPIRED_TOKEN, "The security token included in the request is expired"
        )
