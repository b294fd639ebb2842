"""The canonical request rebuilt from what arrives is, byte for byte, botocore's."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ddbpipe.server.canonical import (
    canonical_request,
    header_map,
    query_pairs,
    signature,
    string_to_sign,
)

SIGNER = SigV4Auth(Credentials("AKID", "secret"), "datapipeline", "us-east-1")


def botocores(url: str, headers: list[tuple[str, str]], body: bytes) -> str:
    request = AWSRequest(method="POST", url=url, data=body)
    for name, value in headers:
        request.headers[name] = value
    canonical: str = SIGNER.canonical_request(request)
    return canonical


def ours(url: str, headers: list[tuple[str, str]], body: bytes) -> str:
    parts = urlsplit(url)
    received = header_map([*headers, ("Host", parts.netloc)])
    signed = sorted(received)
    payload = hashlib.sha256(body).hexdigest()
    return canonical_request(
        "post", parts.path, query_pairs(parts.query), signed, received, payload
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/",
        "http://localhost:8080",
        "http://localhost/a//b/./c/../d/",
        "http://localhost/%E2%82%AC/x%2Fy/~user/a%20b",
        "http://localhost/?b=2&a=1&a=0&c",
        "http://localhost/?name%20x=v%2Bw&~=.-_&emoji=%F0%9F%98%80",
    ],
)
def test_paths_and_queries(url: str) -> None:
    assert ours(url, [], b"") == botocores(url, [], b"")


def test_header_values_are_trimmed_collapsed_and_joined() -> None:
    headers = [("X-Amz-Date", "20240101T000000Z"), ("X-Multi", "  a \t b "), ("X-Multi", "c")]
    url = "http://localhost:8080/"
    assert ours(url, headers, b"{}") == botocores(url, headers, b"{}")
    assert "\nx-multi:a b,c\n" in ours(url, headers, b"{}")


def test_documented_example_request() -> None:
    # The worked example of the IAM guide's "Create a signed AWS API request" page: IAM
    # ListUsers, signed on 2015-08-30 at 12:36:00 UTC.
    received = header_map(
        [
            ("Host", "iam.amazonaws.com"),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("X-Amz-Date", "20150830T123600Z"),
        ]
    )
    canonical = canonical_request(
        "GET",
        "/",
        query_pairs("Action=ListUsers&Version=2010-05-08"),
        ["content-type", "host", "x-amz-date"],
        received,
        hashlib.sha256(b"").hexdigest(),
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == (
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    )
    to_sign = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", canonical)
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    assert signature(secret, "20150830", "us-east-1", "iam", to_sign) == (
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
