"""SigV4 verification against requests that botocore signs, and every way to fail it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.sigv4 import StoredCredential, VerifiedRequest, verify

REGION = "us-east-1"
ENDPOINT = "http://localhost:8080/"
KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
TEMP_KEY, TEMP_SECRET, TOKEN = (
    "ASIAQ3EGUJ6SEXAMPLE0",
    "temporary/secret+key",
    "FQoGZXIvYXdzEXAMPLE==",
)
EXPIRED_KEY = "ASIAQ3EGUJ6SEXPIRED0"
EXPIRY = datetime(2100, 1, 1, tzinfo=UTC)

CREDENTIALS: dict[str, StoredCredential[str]] = {
    KEY: StoredCredential(SECRET, principal="user/alice"),
    TEMP_KEY: StoredCredential(
        TEMP_SECRET, principal="user/alice", session_token=TOKEN, expiration=EXPIRY
    ),
    EXPIRED_KEY: StoredCredential(
        TEMP_SECRET,
        principal="user/alice",
        session_token=TOKEN,
        expiration=datetime(2000, 1, 1, tzinfo=UTC),
    ),
}
JSON_HEADERS = {
    "X-Amz-Target": "DataPipeline.ListPipelines",
    "Content-Type": "application/x-amz-json-1.1",
}
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True)
class Received:
    """A signed request as the server receives it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def signed_at(self) -> datetime:
        stamp = self.header("X-Amz-Date") or self.query_param("X-Amz-Date")
        assert stamp is not None
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def query_param(self, name: str) -> str | None:
        pairs = (item.partition("=") for item in self.query.split("&"))
        return next((v for k, _, v in pairs if k == name), None)

    def with_header(self, name: str, value: str | None) -> Received:
        """A copy with ``name`` replaced by ``value`` (or removed when None)."""
        kept = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            kept.append((name, value))
        return replace(self, headers=kept)


def text(value: str | bytes) -> str:
    """A header as the server reads it: bytes go on the wire as they are."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def received(prepared: AWSPreparedRequest) -> Received:
    """What reaches the server: urllib3 adds the Host header botocore signed."""
    parts = urlsplit(prepared.url)
    headers = [(text(k), text(v)) for k, v in prepared.headers.items()]
    headers.append(("Host", parts.netloc))
    body = prepared.body or b""
    if isinstance(body, str):  # query protocol bodies: ASCII, percent-encoded
        body = body.encode()
    assert isinstance(body, bytes)
    return Received(prepared.method, parts.path or "/", parts.query, headers, body)


def signed(
    body: bytes = b'{"marker": "m"}',
    *,
    key: str = KEY,
    secret: str = SECRET,
    token: str | None = None,
    service: str = "datapipeline",
    region: str = REGION,
    url: str = ENDPOINT,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    method: str = "POST",
) -> Received:
    request = AWSRequest(method=method, url=url, data=body)
    pairs = JSON_HEADERS.items() if headers is None else headers
    for name, value in pairs.items() if isinstance(pairs, dict) else pairs:
        request.headers[name] = value  # a repeated name adds a value
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    arrived = received(request.prepare())
    # Preparing keeps one value per header name; the wire may carry several.
    names = {name.lower() for name, _ in request.headers.items()}
    kept = [(k, v) for k, v in arrived.headers if k.lower() not in names]
    return replace(arrived, headers=[*request.headers.items(), *kept])


def check(
    request: Received,
    *,
    now: datetime | None = None,
    service: str = "datapipeline",
    debug: bool = False,
) -> VerifiedRequest[str]:
    return verify(
        request.method,
        request.path,
        request.query,
        request.headers,
        request.body,
        now=now or request.signed_at,
        service=service,
        regions={REGION, "eu-central-1"},
        lookup=CREDENTIALS.get,
        debug=debug,
    )


def refused(request: Received, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        check(request, **kwargs)
    return caught.value


# --- requests that verify --------------------------------------------------------------


def test_request_signed_by_botocore_verifies() -> None:
    request = signed()
    verified = check(request)
    assert verified.access_key_id == KEY
    assert verified.principal == "user/alice"
    assert verified.region == REGION
    assert verified.signed_at == request.signed_at
    assert not verified.credential.temporary


def test_headers_arrive_as_bytes_pairs_or_a_mapping() -> None:
    request = signed()
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in request.headers]
    as_mapping = dict(request.headers)
    for headers in (raw, as_mapping):
        verified = verify(
            request.method,
            request.path.encode(),
            request.query.encode(),
            headers,
            request.body,
            now=request.signed_at,
            service="datapipeline",
            regions={REGION},
            lookup=CREDENTIALS.get,
        )
        assert verified.access_key_id == KEY


def test_temporary_credential_with_its_token_verifies() -> None:
    verified = check(signed(key=TEMP_KEY, secret=TEMP_SECRET, token=TOKEN))
    assert verified.credential.temporary
    assert verified.principal == "user/alice"


def test_timestamps_within_five_minutes_either_way_verify() -> None:
    request = signed()
    for offset in (timedelta(minutes=-5), timedelta(minutes=4, seconds=59), timedelta(0)):
        assert check(request, now=request.signed_at + offset).access_key_id == KEY


def test_repeated_headers_are_joined_and_whitespace_collapsed() -> None:
    headers = [*JSON_HEADERS.items(), ("X-Custom", " a   b "), ("X-Custom", "\tc  d")]
    request = signed(headers=headers)
    assert [v for k, v in request.headers if k == "X-Custom"] == [" a   b ", "\tc  d"]
    assert check(request).access_key_id == KEY
    # The server must see both values: losing one breaks the signature.
    one_value = replace(request, headers=[h for h in request.headers if h[1] != "\tc  d"])
    assert refused(one_value).error_code is ErrorCode.INVALID_SIGNATURE


def test_form_encoded_sts_body_verifies() -> None:
    body = b"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    request = signed(body, service="sts", headers=headers)
    assert check(request, service="sts").access_key_id == KEY


def test_date_header_stands_in_for_x_amz_date() -> None:
    request = signed(headers={**JSON_HEADERS, "Date": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert request.header("X-Amz-Date") is None
    date = request.header("Date")
    assert date is not None
    signed_at = datetime.strptime(date, "%a, %d %b %Y %H:%M:%S %z")
    assert check(request, now=signed_at).access_key_id == KEY


def test_content_sha256_header_that_matches_the_body_verifies() -> None:
    body = b'{"pipelineIds": ["df-1"]}'
    headers = {**JSON_HEADERS, "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    assert check(signed(body, headers=headers)).access_key_id == KEY


def test_presigned_query_verifies() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}?Action=GetCallerIdentity&Version=2011")
    SigV4QueryAuth(Credentials(KEY, SECRET), "sts", REGION, expires=60).add_auth(request)
    presigned = received(request.prepare())
    assert presigned.header("Authorization") is None
    assert check(presigned, service="sts").access_key_id == KEY
    late = presigned.signed_at + timedelta(seconds=61)
    error = refused(presigned, now=late, service="sts")
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert error.message.startswith("Signature expired: ")
    assert error.message.endswith(" - 1 min.)")


def test_documented_example_request_verifies() -> None:
    # The worked example of the IAM guide's "Create a signed AWS API request" page.
    authorization = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    headers = [
        ("Host", "iam.amazonaws.com"),
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", authorization),
    ]
    example = {"AKIDEXAMPLE": StoredCredential("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "me")}
    verified = verify(
        "GET",
        "/",
        "Action=ListUsers&Version=2010-05-08",
        headers,
        b"",
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
        service="iam",
        regions={"us-east-1"},
        lookup=example.get,
    )
    assert verified.principal == "me"


# --- boto3 clients: the requests they really send ---------------------------------------


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


def sent_by_boto3(
    service: str, operation: str, reply: bytes, token: str | None = None, **params: Any
) -> Received:
    """The request a boto3 client sends for ``operation``, answered with ``reply``."""
    session = boto3.session.Session(
        aws_access_key_id=TEMP_KEY if token else KEY,
        aws_secret_access_key=TEMP_SECRET if token else SECRET,
        aws_session_token=token,
        region_name=REGION,
    )
    client = session.client(
        service, endpoint_url="http://127.0.0.1:8080", config=Config(retries={"max_attempts": 0})
    )
    sent: list[AWSPreparedRequest] = []

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Body(reply))

    client.meta.events.register("before-send", answer)
    getattr(client, operation)(**params)
    (request,) = sent
    return received(request)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("list_pipelines", {}),
        (
            "create_pipeline",
            {
                "name": "nightly export — ünïcode",
                "uniqueId": "token 1",
                "tags": [{"key": "team", "value": "data & more"}],
            },
        ),
        ("describe_pipelines", {"pipelineIds": ["df-0123456789ABCDEFGHIJ"]}),
    ],
)
@pytest.mark.parametrize("token", [None, TOKEN])
def test_boto3_datapipeline_requests_verify(
    operation: str, params: dict[str, Any], token: str | None
) -> None:
    request = sent_by_boto3("datapipeline", operation, b"{}", token=token, **params)
    assert request.header("X-Amz-Target") == "DataPipeline." + "".join(
        part.capitalize() for part in operation.split("_")
    )
    assert check(request).credential.temporary is (token is not None)


def test_boto3_sts_request_verifies() -> None:
    reply = (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/alice</Arn>"
        b"<UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>"
        b"</GetCallerIdentityResult></GetCallerIdentityResponse>"
    )
    request = sent_by_boto3("sts", "get_caller_identity", reply)
    assert request.body == b"Action=GetCallerIdentity&Version=2011-06-15"
    assert check(request, service="sts").access_key_id == KEY


# --- refusals ---------------------------------------------------------------------------


def test_no_signature_is_missing_authentication_token() -> None:
    request = signed().with_header("Authorization", None)
    error = refused(request)
    assert error.error_code is ErrorCode.MISSING_AUTHENTICATION_TOKEN
    assert error.message == "Request is missing Authentication Token"


def test_authorization_of_another_scheme_is_missing_authentication_token() -> None:
    request = signed().with_header("Authorization", "Bearer abc")
    assert refused(request).error_code is ErrorCode.MISSING_AUTHENTICATION_TOKEN


def test_authorization_without_signature_is_incomplete() -> None:
    header = signed().header("Authorization")
    assert header is not None
    cut = header.split(", Signature=")[0]
    error = refused(signed().with_header("Authorization", cut))
    assert error.error_code is ErrorCode.INCOMPLETE_SIGNATURE
    assert error.message == (
        f"Authorization header requires 'Signature' parameter. Authorization={cut}"
    )


def test_authorization_part_without_equals_is_incomplete() -> None:
    header = "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=00"
    error = refused(signed().with_header("Authorization", header))
    assert error.error_code is ErrorCode.INCOMPLETE_SIGNATURE
    assert error.message.startswith("'Credential' not a valid key=value pair (missing equal-sign)")


def test_request_without_a_date_is_incomplete() -> None:
    error = refused(signed().with_header("X-Amz-Date", None), now=EXPIRY)
    assert error.error_code is ErrorCode.INCOMPLETE_SIGNATURE
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header." in error.message


def test_date_not_in_basic_format_is_incomplete() -> None:
    request = signed()
    error = refused(request.with_header("X-Amz-Date", "2024-01-01T00:00:00Z"), now=EXPIRY)
    assert error.error_code is ErrorCode.INCOMPLETE_SIGNATURE
    assert error.message == (
        "Date must be in ISO-8601 'basic format'. Got '2024-01-01T00:00:00Z'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_unknown_algorithm_is_incomplete() -> None:
    request = signed()
    header = request.header("Authorization")
    assert header is not None
    other = header.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1)
    error = refused(request.with_header("Authorization", other))
    assert error.error_code is ErrorCode.INCOMPLETE_SIGNATURE
    assert error.message.startswith("Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'")


def test_credential_without_five_parts_is_incomplete() -> None:
    request = signed()
    header = request.header("Authorization")
    assert header is not None
    short = header.replace("/aws4_request", "")
    error = refused(request.with_header("Authorization", short))
    assert error.error_code is ErrorCode.INCOMPLETE_SIGNATURE
    assert error.message.startswith("Credential must have exactly 5 slash-delimited elements")


def test_unknown_access_key_is_unrecognized_client() -> None:
    error = refused(signed(key="AKIAUNKNOWNEXAMPLE00"))
    assert error.error_code is ErrorCode.UNRECOGNIZED_CLIENT
    assert error.message == "The security token included in the request is invalid."


def test_wrong_secret_is_invalid_signature() -> None:
    error = refused(signed(secret="not the secret"))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert error.message == MISMATCH


def test_tampered_body_is_invalid_signature() -> None:
    request = signed(b'{"pipelineIds": ["df-1"]}')
    tampered = replace(request, body=b'{"pipelineIds": ["df-2"]}')
    assert refused(tampered).error_code is ErrorCode.INVALID_SIGNATURE


def test_tampered_signed_header_is_invalid_signature() -> None:
    request = signed().with_header("X-Amz-Target", "DataPipeline.DeletePipeline")
    assert refused(request).error_code is ErrorCode.INVALID_SIGNATURE


def test_tampered_path_or_query_is_invalid_signature() -> None:
    request = signed(url=f"{ENDPOINT}a/b?x=1")
    assert check(request).access_key_id == KEY
    assert refused(replace(request, path="/a/c")).error_code is ErrorCode.INVALID_SIGNATURE
    assert refused(replace(request, query="x=2")).error_code is ErrorCode.INVALID_SIGNATURE


def test_unsigned_amz_header_is_refused() -> None:
    request = signed().with_header("X-Amz-Meta-Owner", "mallory")
    error = refused(request)
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert error.message.endswith("HeadersNotSigned: x-amz-meta-owner")


def test_host_must_be_signed() -> None:
    request = signed()
    header = request.header("Authorization")
    assert header is not None
    without_host = header.replace("host;", "")
    error = refused(request.with_header("Authorization", without_host))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert "'Host' or ':authority' must be a 'SignedHeader'" in error.message


def test_request_six_minutes_old_has_expired() -> None:
    request = signed()
    now = request.signed_at + timedelta(minutes=6)
    error = refused(request, now=now)
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    stamp = request.signed_at.strftime("%Y%m%dT%H%M%SZ")
    five_ago = (now - timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")
    assert error.message == (
        f"Signature expired: {stamp} is now earlier than {five_ago} "
        f"({now.strftime('%Y%m%dT%H%M%SZ')} - 5 min.)"
    )


def test_request_six_minutes_ahead_is_not_yet_current() -> None:
    request = signed()
    now = request.signed_at - timedelta(minutes=6)
    error = refused(request, now=now)
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    stamp = request.signed_at.strftime("%Y%m%dT%H%M%SZ")
    in_five = (now + timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")
    assert error.message == (
        f"Signature not yet current: {stamp} is still later than {in_five} "
        f"({now.strftime('%Y%m%dT%H%M%SZ')} + 5 min.)"
    )


def test_region_not_accepted() -> None:
    error = refused(signed(region="eu-west-1"))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert error.message == "Credential should be scoped to a valid region, not 'eu-west-1'."


def test_another_accepted_region_verifies() -> None:
    assert check(signed(region="eu-central-1")).region == "eu-central-1"


def test_wrong_service_in_scope() -> None:
    error = refused(signed(service="dynamodb"))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert error.message == "Credential should be scoped to correct service: 'datapipeline'."


def test_sts_signature_is_not_accepted_by_datapipeline() -> None:
    assert refused(signed(service="sts")).error_code is ErrorCode.INVALID_SIGNATURE


def test_scope_date_other_than_the_request_date() -> None:
    request = signed()
    header = request.header("Authorization")
    assert header is not None
    day = request.signed_at.strftime("%Y%m%d")
    day_before = (request.signed_at - timedelta(days=1)).strftime("%Y%m%d")
    moved = header.replace(f"/{day}/", f"/{day_before}/")
    error = refused(request.with_header("Authorization", moved))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    stamp = request.signed_at.strftime("%Y%m%dT%H%M%SZ")
    assert error.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        f"HTTP: '{day_before}' != '{day}', from '{stamp}'."
    )


def test_wrong_terminator_in_scope() -> None:
    request = signed()
    header = request.header("Authorization")
    assert header is not None
    error = refused(request.with_header("Authorization", header.replace("aws4_", "aws5_")))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert error.message == (
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    )


def test_every_scope_problem_is_named_at_once() -> None:
    error = refused(signed(service="s3", region="mars-1"))
    assert error.message == (
        "Credential should be scoped to a valid region, not 'mars-1'. "
        "Credential should be scoped to correct service: 'datapipeline'."
    )


def test_expired_session_token() -> None:
    request = signed(key=EXPIRED_KEY, secret=TEMP_SECRET, token=TOKEN)
    error = refused(request)
    assert error.error_code is ErrorCode.EXPIRED_TOKEN
    assert error.message == "The security token included in the request is expired"


def test_session_token_with_the_wrong_secret_is_invalid_signature() -> None:
    request = signed(key=TEMP_KEY, secret=SECRET, token=TOKEN)
    assert refused(request).error_code is ErrorCode.INVALID_SIGNATURE


def test_temporary_key_without_its_token_is_refused() -> None:
    error = refused(signed(key=TEMP_KEY, secret=TEMP_SECRET))
    assert error.error_code is ErrorCode.UNRECOGNIZED_CLIENT
    assert error.message == "The security token included in the request is invalid"


def test_temporary_key_with_another_token_is_refused() -> None:
    request = signed(key=TEMP_KEY, secret=TEMP_SECRET, token="another token")
    assert refused(request).error_code is ErrorCode.UNRECOGNIZED_CLIENT


def test_token_on_a_permanent_key_is_refused() -> None:
    request = signed(key=KEY, secret=SECRET, token=TOKEN)
    assert refused(request).error_code is ErrorCode.UNRECOGNIZED_CLIENT


def test_content_sha256_that_does_not_match_the_body_is_refused() -> None:
    headers = {**JSON_HEADERS, "X-Amz-Content-SHA256": hashlib.sha256(b"other").hexdigest()}
    error = refused(signed(headers=headers))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert "'x-amz-content-sha256' header does not match" in error.message


def test_unsigned_payload_is_refused() -> None:
    headers = {**JSON_HEADERS, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    error = refused(signed(headers=headers))
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert "must be signed" in error.message


def test_signature_both_in_header_and_query_is_refused() -> None:
    request = signed(url=f"{ENDPOINT}?X-Amz-Algorithm=AWS4-HMAC-SHA256")
    error = refused(request)
    assert error.error_code is ErrorCode.INVALID_SIGNATURE
    assert error.message.startswith("Found both 'X-Amz-Algorithm'")


def test_presigned_query_without_its_signature_is_incomplete() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}?Action=GetCallerIdentity")
    SigV4QueryAuth(Credentials(KEY, SECRET), "sts", REGION).add_auth(request)
    presigned = received(request.prepare())
    cut = replace(presigned, query=presigned.query.split("&X-Amz-Signature=")[0])
    error = refused(cut, service="sts")
    assert error.error_code is ErrorCode.INCOMPLETE_SIGNATURE
    assert error.message == (
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "Re-examine the query-string parameters."
    )


def test_naive_clock_is_a_programming_error() -> None:
    request = signed()
    with pytest.raises(ValueError, match="timezone-aware"):
        check(request, now=request.signed_at.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        StoredCredential("s", "p", session_token="t", expiration=datetime(2100, 1, 1))


# --- the debug explanation --------------------------------------------------------------


def test_debug_mismatch_names_botocores_canonical_request_and_string_to_sign(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="botocore.auth")
    request = signed(secret="not the secret")
    logged = {
        record.msg.split(":")[0]: record.args[0]
        for record in caplog.records
        if isinstance(record.args, tuple) and record.args
    }
    error = refused(request, debug=True)
    assert error.message == (
        f"{MISMATCH}\n\nThe Canonical String for this request should have been\n"
        f"'{logged['CanonicalRequest']}'\n\n"
        f"The String-to-Sign should have been\n'{logged['StringToSign']}'\n"
    )
    assert refused(request).message == MISMATCH


# --- any request botocore can sign ------------------------------------------------------

_segments = st.lists(
    st.one_of(st.sampled_from([".", ".."]), st.text(min_size=1, max_size=8)), max_size=4
)
_query = st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4)
_header_names = st.from_regex(r"x-[a-z][a-z0-9-]{0,8}", fullmatch=True).filter(
    lambda name: not name.startswith("x-amz")
)
_header_values = st.text(
    st.characters(min_codepoint=0x09, max_codepoint=0xFF, blacklist_characters="\r\n\x0b\x0c"),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    segments=_segments,
    query=_query,
    extra=st.lists(st.tuples(_header_names, _header_values), max_size=4),
    body=st.binary(max_size=64),
    trailing_slash=st.booleans(),
)
def test_any_request_botocore_signs_verifies(
    segments: list[str],
    query: list[tuple[str, str]],
    extra: list[tuple[str, str]],
    body: bytes,
    trailing_slash: bool,
) -> None:
    path = "/" + "/".join(quote(s.encode(), safe="-_.~") for s in segments)
    if trailing_slash and segments:
        path += "/"
    url = f"http://localhost:8080{path}"
    if query:
        url += "?" + percent_encode_sequence(query)
    request = signed(body, url=url, headers=[*JSON_HEADERS.items(), *extra])
    assert check(request).access_key_id == KEY
