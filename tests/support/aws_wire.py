"""The two AWS wire protocols the fault proxy speaks: which operation a request is, and
error responses written as each service writes them.

DynamoDB speaks JSON 1.0: every request is a POST whose ``X-Amz-Target`` header names the
operation, and an error is a JSON body whose ``__type`` ends in the error code. S3 speaks
REST over path-style URLs (``/bucket/key?query``): the method, whether the path names the
service, a bucket or an object, and the query string's subresources name the operation, and
an error is an ``<Error>`` XML document.
"""

from __future__ import annotations

import functools
import json
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

import botocore.session

Service = Literal["dynamodb", "s3"]
SERVICES: tuple[Service, ...] = ("dynamodb", "s3")

TARGET_PREFIX = "DynamoDB_20120810."
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
DYNAMODB_NAMESPACE = "com.amazonaws.dynamodb.v20120810"
DYNAMODB_ADMIN_OPERATIONS = frozenset({"DescribeTable", "CreateTable", "DeleteTable", "ListTables"})

# DynamoDB answers errors raised by its request-handling layer under other namespaces, and
# AccessDeniedException with a capitalised "Message".
DYNAMODB_ERROR_SHAPES: Mapping[str, tuple[str, str]] = {
    "ValidationException": ("com.amazon.coral.validate", "message"),
    "AccessDeniedException": ("com.amazon.coral.service", "Message"),
    "UnrecognizedClientException": ("com.amazon.coral.service", "message"),
    "ThrottlingException": ("com.amazon.coral.availability", "message"),
}
DYNAMODB_MESSAGES: Mapping[str, str] = {
    "ProvisionedThroughputExceededException": (
        "The level of configured provisioned throughput for the table was exceeded."
    ),
    "InternalServerError": "Internal server error",
    "ResourceNotFoundException": "Requested resource not found",
    "AccessDeniedException": "User is not authorized to perform this operation",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "RequestLimitExceeded": "Throughput exceeds the current throughput limit for your account.",
    "ValidationException": "1 validation error detected",
}
S3_MESSAGES: Mapping[str, str] = {
    "InternalError": "We encountered an internal error. Please try again.",
    "SlowDown": "Please reduce your request rate.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "AccessDenied": "Access Denied",
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchUpload": (
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed."
    ),
}

# S3 operations that name a bucket only, by method and subresource (a query parameter).
S3_BUCKET_OPERATIONS: Mapping[tuple[str, str], str] = {
    ("GET", ""): "ListObjects",
    ("GET", "list-type"): "ListObjectsV2",
    ("HEAD", ""): "HeadBucket",
    ("PUT", ""): "CreateBucket",
    ("DELETE", ""): "DeleteBucket",
    ("GET", "uploads"): "ListMultipartUploads",
    ("GET", "versions"): "ListObjectVersions",
    ("GET", "location"): "GetBucketLocation",
    ("POST", "delete"): "DeleteObjects",
    ("GET", "versioning"): "GetBucketVersioning",
    ("PUT", "versioning"): "PutBucketVersioning",
    ("GET", "acl"): "GetBucketAcl",
    ("PUT", "acl"): "PutBucketAcl",
    ("GET", "tagging"): "GetBucketTagging",
    ("PUT", "tagging"): "PutBucketTagging",
    ("DELETE", "tagging"): "DeleteBucketTagging",
    ("GET", "policy"): "GetBucketPolicy",
    ("PUT", "policy"): "PutBucketPolicy",
    ("DELETE", "policy"): "DeleteBucketPolicy",
    ("GET", "cors"): "GetBucketCors",
    ("PUT", "cors"): "PutBucketCors",
    ("DELETE", "cors"): "DeleteBucketCors",
    ("GET", "lifecycle"): "GetBucketLifecycleConfiguration",
    ("PUT", "lifecycle"): "PutBucketLifecycleConfiguration",
    ("DELETE", "lifecycle"): "DeleteBucketLifecycle",
    ("GET", "encryption"): "GetBucketEncryption",
    ("PUT", "encryption"): "PutBucketEncryption",
    ("DELETE", "encryption"): "DeleteBucketEncryption",
}
# S3 operations on one object, by method and subresource; "copy" stands for a PUT that
# carries x-amz-copy-source.
S3_OBJECT_OPERATIONS: Mapping[tuple[str, str], str] = {
    ("GET", ""): "GetObject",
    ("HEAD", ""): "HeadObject",
    ("PUT", ""): "PutObject",
    ("PUT", "copy"): "CopyObject",
    ("DELETE", ""): "DeleteObject",
    ("POST", "uploads"): "CreateMultipartUpload",
    ("PUT", "uploadId"): "UploadPart",
    ("PUT", "uploadId+copy"): "UploadPartCopy",
    ("POST", "uploadId"): "CompleteMultipartUpload",
    ("DELETE", "uploadId"): "AbortMultipartUpload",
    ("GET", "uploadId"): "ListParts",
    ("POST", "restore"): "RestoreObject",
    ("GET", "attributes"): "GetObjectAttributes",
    ("GET", "acl"): "GetObjectAcl",
    ("PUT", "acl"): "PutObjectAcl",
    ("GET", "tagging"): "GetObjectTagging",
    ("PUT", "tagging"): "PutObjectTagging",
    ("DELETE", "tagging"): "DeleteObjectTagging",
}
S3_BUCKET_SUBRESOURCES = frozenset(sub for _, sub in S3_BUCKET_OPERATIONS if sub)
S3_OBJECT_SUBRESOURCES = frozenset(
    {"uploads", "uploadId", "restore", "attributes", "acl", "tagging"}
)
S3_OPERATIONS = frozenset(
    {"ListBuckets", *S3_BUCKET_OPERATIONS.values(), *S3_OBJECT_OPERATIONS.values()}
)
S3_LISTINGS = frozenset(
    {"ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"}
)
S3_ADMIN_OPERATIONS = frozenset(
    {"ListBuckets", *S3_BUCKET_OPERATIONS.values()} - S3_LISTINGS - {"DeleteObjects"}
)
ADMIN_OPERATIONS = DYNAMODB_ADMIN_OPERATIONS | S3_ADMIN_OPERATIONS


@functools.cache
def dynamodb_operations() -> frozenset[str]:
    """Every operation in DynamoDB's API, as botocore's service model names them."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    return frozenset(model.operation_names)


def operations_of(service: Service) -> frozenset[str]:
    """The operations of ``service`` that the proxy can tell apart."""
    return dynamodb_operations() if service == "dynamodb" else S3_OPERATIONS


def service_of(operation: str) -> Service | None:
    """The service that has an operation named ``operation``, if either has."""
    for service in SERVICES:
        if operation in operations_of(service):
            return service
    return None


@dataclass
class ProxyResponse:
    """An HTTP response for the proxy to send to its client."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    declared_length: int | None = None
    """The Content-Length to announce when it is not ``len(body)`` (answers to HEAD)."""
    cut_at: int | None = None
    """Send only this many bytes of the body, then close the connection."""


@dataclass(frozen=True, eq=False)
class ProxyRequest:
    """One client request as the proxy read it, and what it is to AWS.

    ``bucket`` and ``key`` are the decoded S3 bucket and object key from a path-style URL
    (empty where the request has none); ``query`` holds the query string's parameters.
    """

    method: str
    target: str
    """The request target exactly as the client sent it: path and query string."""
    headers: tuple[tuple[str, str], ...]
    body: bytes
    service: Service | None
    operation: str | None
    """The operation's name in the service's API, or None if the proxy cannot tell."""
    bucket: str = ""
    key: str = ""
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The value of the first header called ``name`` (any case), if there is one."""
        return _first(self.headers, name)

    @cached_property
    def tables(self) -> frozenset[str]:
        """DynamoDB: the tables the request names (TableName, or the keys of RequestItems)."""
        if self.service != "dynamodb":
            return frozenset()
        try:
            payload = json.loads(self.body)
        except ValueError:
            return frozenset()
        if not isinstance(payload, dict):
            return frozenset()
        names: set[str] = set()
        if isinstance(payload.get("TableName"), str):
            names.add(payload["TableName"])
        for field_name in ("RequestItems", "TransactItems"):
            value = payload.get(field_name)
            if isinstance(value, dict):
                names.update(value)
            elif isinstance(value, list):
                names.update(
                    str(action["TableName"])
                    for entry in value
                    if isinstance(entry, dict)
                    for action in entry.values()
                    if isinstance(action, dict) and isinstance(action.get("TableName"), str)
                )
        return frozenset(names)


def read_request(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> ProxyRequest:
    """Tell which service and operation a request is for."""
    frozen_headers = tuple(headers)
    amz_target = _first(headers, "x-amz-target")
    if amz_target is not None:
        operation = (
            amz_target[len(TARGET_PREFIX) :] if amz_target.startswith(TARGET_PREFIX) else None
        )
        service: Service | None = "dynamodb" if operation else None
        return ProxyRequest(method, target, frozen_headers, body, service, operation)
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if _signing_service(headers, query) not in (None, "s3"):
        return ProxyRequest(method, target, frozen_headers, body, None, None, query=query)
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    copy = _first(headers, "x-amz-copy-source") is not None
    operation = _s3_operation(method, bucket, key, query, copy)
    return ProxyRequest(method, target, frozen_headers, body, "s3", operation, bucket, key, query)


def _s3_operation(
    method: str, bucket: str, key: str, query: Mapping[str, str], copy: bool
) -> str | None:
    """The S3 operation for a path-style request, or None if it is none the proxy knows."""
    if not bucket:
        return "ListBuckets" if method == "GET" and not query else None
    if not key:
        subresource = next((name for name in query if name in S3_BUCKET_SUBRESOURCES), "")
        if subresource == "list-type" and query["list-type"] != "2":
            subresource = ""
        return S3_BUCKET_OPERATIONS.get((method, subresource))
    subresource = next((name for name in query if name in S3_OBJECT_SUBRESOURCES), "")
    if subresource == "uploadId" and method == "PUT" and "partNumber" not in query:
        return None
    if copy:
        subresource = f"{subresource}+copy" if subresource else "copy"
    return S3_OBJECT_OPERATIONS.get((method, subresource))


def _signing_service(headers: list[tuple[str, str]], query: Mapping[str, str]) -> str | None:
    """The service named in a SigV4 credential scope (header or presigned URL), if any."""
    credential = query.get("X-Amz-Credential")
    if credential is None:
        authorization = _first(headers, "authorization") or ""
        _, found, rest = authorization.partition("Credential=")
        if not found:
            return None
        credential = rest.split(",", 1)[0].strip()
    scope = credential.split("/")
    return scope[3] if len(scope) == 5 else None


def error_response(
    service: Service | None, status: int, code: str, message: str | None = None
) -> ProxyResponse:
    """An error answer as ``service`` writes it (DynamoDB's JSON when there is no service)."""
    if service == "s3":
        return s3_error(status, code, message)
    return dynamodb_error(status, code, message)


def dynamodb_error(status: int, code: str, message: str | None = None) -> ProxyResponse:
    """A DynamoDB JSON 1.0 error; ``code`` may be a bare code or a full ``namespace#Code``."""
    bare_code = code.rpartition("#")[2]
    namespace, message_field = DYNAMODB_ERROR_SHAPES.get(bare_code, (DYNAMODB_NAMESPACE, "message"))
    error_type = code if "#" in code else f"{namespace}#{code}"
    text = message if message is not None else DYNAMODB_MESSAGES.get(bare_code, bare_code)
    body = json.dumps({"__type": error_type, message_field: text}).encode()
    headers = [
        ("Content-Type", JSON_CONTENT_TYPE),
        ("x-amzn-RequestId", dynamodb_request_id()),
        ("x-amz-crc32", str(zlib.crc32(body))),
    ]
    return ProxyResponse(status, _reason(status), headers, body)


def s3_error(
    status: int, code: str, message: str | None = None, resource: tuple[str, str] | None = None
) -> ProxyResponse:
    """An S3 ``<Error>`` XML document; ``resource`` adds e.g. ``("BucketName", "b")``."""
    text = message if message is not None else S3_MESSAGES.get(code, code)
    request_id = secrets.token_hex(8).upper()
    host_id = secrets.token_urlsafe(48)
    extra = f"<{resource[0]}>{escape(resource[1])}</{resource[0]}>" if resource else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(text)}</Message>{extra}"
        f"<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
    ).encode()
    headers = [
        ("Content-Type", "application/xml"),
        ("x-amz-request-id", request_id),
        ("x-amz-id-2", host_id),
    ]
    return ProxyResponse(status, _reason(status), headers, body)


def s3_error_resource(code: str, request: ProxyRequest) -> tuple[str, str] | None:
    """The element S3 adds to an error naming what was missing, for the codes that have one."""
    if code == "NoSuchBucket" and request.bucket:
        return ("BucketName", request.bucket)
    if code == "NoSuchKey" and request.key:
        return ("Key", request.key)
    return None


def dynamodb_request_id() -> str:
    """A DynamoDB-style request id."""
    return secrets.token_hex(26).upper()


def consumed_capacity(body: bytes, headers: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The ``ConsumedCapacity`` entries of a DynamoDB response body (none if it has none)."""
    if (_first(headers, "content-encoding") or "").lower() == "gzip":
        body = zlib.decompress(body, wbits=31)
    if b'"ConsumedCapacity"' not in body:
        return []
    try:
        payload = json.loads(body)
    except ValueError:
        return []
    consumed = payload.get("ConsumedCapacity") if isinstance(payload, dict) else None
    if isinstance(consumed, dict):
        return [consumed]
    if isinstance(consumed, list):
        return [entry for entry in consumed if isinstance(entry, dict)]
    return []


def _first(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]], name: str) -> str | None:
    """The value of the first header called ``name`` (any case)."""
    lowered = name.lower()
    return next((value for key, value in headers if key.lower() == lowered), None)


def _reason(status: int) -> str:
    """The reason phrase for ``status``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


__all__ = [
    "ADMIN_OPERATIONS",
    "DYNAMODB_ADMIN_OPERATIONS",
    "S3_ADMIN_OPERATIONS",
    "S3_OPERATIONS",
    "SERVICES",
    "ProxyRequest",
    "ProxyResponse",
    "Service",
    "consumed_capacity",
    "dynamodb_error",
    "dynamodb_operations",
    "error_response",
    "operations_of",
    "read_request",
    "s3_error",
    "service_of",
]
