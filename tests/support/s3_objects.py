"""S3 in fault tests: stores that go through a proxy, what a bucket holds, ranged reads.

Stores built here retry fast (``FAST_RETRIES``) and sign with the endpoint's own
credentials, so that ``rclone serve s3`` accepts their requests through a proxy too.
What a bucket holds is asked of the server directly, never through a proxy.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from ddbpipe.backups.opener import open_backup
from ddbpipe.formats.datapipeline import encode_items
from ddbpipe.retry import RetryPolicy
from ddbpipe.sessions import StaticCredentials
from ddbpipe.stores import S3Store, StoreConfig, open_store
from ddbpipe.stores.s3 import DEFAULT_PAGE_SIZE, MIN_PART_SIZE
from tests.support.aws_wire import ProxyRequest
from tests.support.fault_rules import ExactRule, Throttle
from tests.support.servers import Endpoint

FAST_RETRIES = RetryPolicy(max_attempts=40, base_delay=0.002, max_delay=0.02)
"""Enough attempts for any fault schedule of these tests, and waits of milliseconds."""


def s3_config(endpoint: Endpoint, url: str | None = None) -> StoreConfig:
    """A StoreConfig with ``endpoint``'s credentials that reaches ``url`` (a proxy in front
    of ``endpoint``), or the endpoint itself, retrying fast."""
    return StoreConfig(
        region=endpoint.region,
        endpoint_url=url or endpoint.url,
        credentials=StaticCredentials(endpoint.access_key, endpoint.secret_key),
        retry=FAST_RETRIES,
    )


def s3_store(
    endpoint: Endpoint,
    bucket: str,
    prefix: str = "",
    *,
    url: str | None = None,
    part_size: int = MIN_PART_SIZE,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> S3Store:
    """An S3Store for ``s3://bucket/prefix`` on ``endpoint`` (through ``url`` if given),
    built as ``open_store`` builds it but with parts of ``part_size`` bytes and listings
    of ``page_size`` keys a page."""
    session = boto3.Session(
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        region_name=endpoint.region,
    )
    store = open_store(f"s3://{bucket}/{prefix}", s3_config(endpoint, url), session=session)
    assert isinstance(store, S3Store)
    return S3Store(
        store.client,
        bucket,
        prefix,
        part_size=part_size,
        page_size=page_size,
        retry=FAST_RETRIES,
    )


def open_uploads(endpoint: Endpoint, bucket: str, prefix: str = "") -> list[tuple[str, str]]:
    """``(key, upload id)`` of every multipart upload in progress under ``prefix``."""
    client = endpoint.client("s3")
    uploads: list[tuple[str, str]] = []
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        try:
            page = client.list_multipart_uploads(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchUpload":
                return uploads  # rclone's answer when no upload at all is in progress
            raise
        uploads += [(upload["Key"], upload["UploadId"]) for upload in page.get("Uploads", [])]
        if not page.get("IsTruncated"):
            return uploads
        request.update(
            KeyMarker=page.get("NextKeyMarker", ""),
            UploadIdMarker=page.get("NextUploadIdMarker", ""),
        )


def object_keys(endpoint: Endpoint, bucket: str, prefix: str = "") -> list[str]:
    """Every key under ``prefix``, sorted."""
    paginator = endpoint.client("s3").get_paginator("list_objects_v2")
    return sorted(
        entry["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for entry in page.get("Contents", [])
    )


def upload_backup(
    endpoint: Endpoint, bucket: str, prefix: str, items: list[dict[str, Any]], per_file: int
) -> str:
    """Put ``items`` into Data Pipeline data files under ``prefix`` (``per_file`` items in
    each, no manifest), straight to the server; return the folder's URL."""
    client = endpoint.client("s3")
    for start in range(0, len(items), per_file):
        body = encode_items(items[start : start + per_file])
        client.put_object(Bucket=bucket, Key=f"{prefix}/part-{start:06d}", Body=body)
    return f"s3://{bucket}/{prefix}"


def backup_items(url: str, config: StoreConfig | None = None) -> list[dict[str, Any]]:
    """Every item of the backup at ``url``, in file order (read without faults)."""
    backup = open_backup(url, config)
    return [item for file in backup.files for _, item in backup.iter_items(file)]


class GetLog:
    """Records the Range and If-Match headers of every GetObject that reaches its rule.

    ``rule`` counts and never faults; put it first among the exact rules so that it sees
    every request, including those later rules fault.
    """

    def __init__(self) -> None:
        self.gets: list[tuple[str | None, str | None]] = []
        self.rule = ExactRule(Throttle(), "GetObject", when=self._record, times=0)

    def _record(self, request: ProxyRequest) -> bool:
        self.gets.append((request.header("Range"), request.header("If-Match")))
        return True

    @property
    def starts(self) -> list[int]:
        """The byte each GetObject asked to start at (0 for a whole object)."""
        return [range_start(header) for header, _ in self.gets]


def range_start(header: str | None) -> int:
    """The first byte of a ``bytes=N-`` Range header; 0 without one."""
    if header is None:
        return 0
    unit, _, spec = header.partition("=")
    first, _, _ = spec.partition("-")
    assert unit == "bytes", header
    return int(first)


__all__ = [
    "FAST_RETRIES",
    "GetLog",
    "backup_items",
    "object_keys",
    "open_uploads",
    "range_start",
    "s3_config",
    "s3_store",
    "upload_backup",
]
