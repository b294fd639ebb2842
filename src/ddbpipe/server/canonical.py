"""The SigV4 canonical request of a request as it arrived, byte for byte what botocore
signs, and the signature over it.

The canonical request is six lines: the method; the path with dot segments and repeated
slashes removed and URI-encoded once more; the query's names and values encoded the one
canonical way and sorted; each signed header as ``name:value`` (values trimmed, inner
whitespace collapsed, repeats joined by ``,``) followed by an empty line; the signed
header names joined by ``;``; and the payload hash.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

__all__ = [
    "ALGORITHM",
    "TERMINATOR",
    "Headers",
    "canonical_request",
    "header_map",
    "query_pairs",
    "signature",
    "string_to_sign",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
_SIGNING_KEYS = 1024  # derived keys kept: (secret, date, region, service)

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""Request headers: a mapping, or (name, value) pairs in arrival order with repeats
(such as an ASGI scope's ``headers``); bytes are read as Latin-1."""


def header_map(headers: Headers) -> dict[str, list[str]]:
    """Lower-cased header names to their values, in arrival order."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    received: dict[str, list[str]] = {}
    for name, value in pairs:
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        received.setdefault(key.lower(), []).append(text)
    return received


def query_pairs(query: str | bytes) -> list[tuple[str, str]]:
    """The query string's (name, value) pairs, still percent-encoded."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    pairs = []
    for item in text.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((name, value))
    return pairs


def canonical_request(
    method: str,
    path: str | bytes,
    params: Sequence[tuple[str, str]],
    signed_headers: Sequence[str],
    received: Mapping[str, Sequence[str]],
    payload_hash: str,
) -> str:
    """The canonical request: ``params`` as from ``query_pairs`` (without a presigned
    request's ``X-Amz-Signature``), ``received`` as from ``header_map``."""
    lines = [
        f"{name}:{','.join(' '.join(value.split()) for value in received.get(name.lower(), []))}"
        for name in signed_headers
    ]
    return "\n".join(
        [
            method.upper(),
            _canonical_path(path),
            _canonical_query(params),
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def _canonical_path(path: str | bytes) -> str:
    raw = path if isinstance(path, bytes) else path.encode()
    text = raw.decode("latin-1")  # one character per byte, so encoding gives them back
    segments: list[str] = []
    for segment in text.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normalized = ("/" if text.startswith("/") or not text else "") + "/".join(segments)
    if segments and text.endswith("/"):
        normalized += "/"
    return quote(normalized.encode("latin-1"), safe="/~")


def _canonical_query(params: Sequence[tuple[str, str]]) -> str:
    encoded = sorted(
        (quote(unquote_to_bytes(name), safe="-_.~"), quote(unquote_to_bytes(value), safe="-_.~"))
        for name, value in params
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    """The string to sign: algorithm, ``X-Amz-Date`` timestamp, credential scope
    (``date/region/service/aws4_request``) and the canonical request's SHA-256."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def signature(secret: str, date: str, region: str, service: str, to_sign: str) -> str:
    """The hex signature of ``to_sign`` with the key derived from ``secret`` for one
    date, region and service."""
    key = _signing_key(secret, date, region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=_SIGNING_KEYS)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The key derived from ``secret`` for one date, region and service: four HMACs,
    the same for every request a key signs that day, so kept."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
