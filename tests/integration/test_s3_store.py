"""S3Store against moto and ``rclone serve s3`` (which checks SigV4 signatures)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ddbpipe.errors import AccessDeniedError, BucketNotFoundError, ConfigError, NotFoundError
from ddbpipe.stores import Listing, ObjectInfo, S3Store, Store, StoreConfig, open_store
from ddbpipe.stores.s3 import MIN_PART_SIZE
from tests.support.servers import Endpoint

PREFIX = "some/prefix"
MiB = 1 << 20


class BlockFailed(Exception):
    """Raised inside a ``with store.open_write(...)`` block by the tests."""


def open_s3(
    endpoint: Endpoint, bucket: str, *, secret_key: str | None = None, **options: Any
) -> S3Store:
    """The store for ``s3://bucket/some/prefix`` as ``open_store`` builds it."""
    session = boto3.Session(
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=secret_key or endpoint.secret_key,
        region_name=endpoint.region,
    )
    store = open_store(
        f"s3://{bucket}/{PREFIX}",
        StoreConfig(region=endpoint.region, endpoint_url=endpoint.url),
        session=session,
    )
    assert isinstance(store, S3Store)
    if options:
        store = S3Store(store.client, bucket, PREFIX, **options)
    return store


def write_then_fail(
    store: S3Store, key: str, data: bytes, during: Callable[[], object] = lambda: None
) -> None:
    """Write ``data`` to ``key`` in an ``open_write`` block that calls ``during``, then raises."""
    with store.open_write(key) as writer:
        writer.write(data)
        during()
        raise BlockFailed


@contextmanager
def recorded_calls(store: S3Store) -> Iterator[list[str]]:
    """The names of the S3 operations the store's client calls inside the block."""
    names: list[str] = []

    def record(model: Any, **_: Any) -> None:
        names.append(model.name)

    store.client.meta.events.register("before-call.s3", record)
    try:
        yield names
    finally:
        store.client.meta.events.unregister("before-call.s3", record)


def pending_uploads(endpoint: Endpoint, bucket: str) -> list[str]:
    """Keys of the multipart uploads in progress in ``bucket``."""
    try:
        response = endpoint.client("s3").list_multipart_uploads(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchUpload":
            return []  # rclone's answer when there is no upload in progress
        raise
    return [upload["Key"] for upload in response.get("Uploads", [])]


@pytest.fixture
def s3(s3_bucket: tuple[Endpoint, str]) -> S3Store:
    endpoint, bucket = s3_bucket
    return open_s3(endpoint, bucket)


def test_open_store_builds_an_s3_store(s3: S3Store, s3_bucket: tuple[Endpoint, str]) -> None:
    _, bucket = s3_bucket
    assert isinstance(s3, Store)
    assert s3.url == f"s3://{bucket}/{PREFIX}"
    assert s3.url_for("run/manifest") == f"s3://{bucket}/{PREFIX}/run/manifest"


def test_round_trip_of_every_byte_value(s3: S3Store, s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    data = bytes(range(256)) * 17
    s3.write_bytes("run/data.bin", data)
    assert s3.read_bytes("run/data.bin") == data
    raw = endpoint.client("s3").get_object(Bucket=bucket, Key=f"{PREFIX}/run/data.bin")
    assert raw["Body"].read() == data


def test_empty_object_round_trips(s3: S3Store) -> None:
    s3.write_bytes("_SUCCESS", b"")
    assert s3.exists("_SUCCESS")
    assert s3.size("_SUCCESS") == 0
    s3.write_bytes("three", b"abc")
    assert (s3.size("three"), s3.size("missing")) == (3, None)
    assert s3.read_bytes("_SUCCESS") == b""
    with s3.open_write("empty") as _:
        pass
    assert s3.read_bytes("empty") == b""


def test_iter_chunks_streams_in_bounded_chunks(s3: S3Store) -> None:
    data = os.urandom(MiB + 123)
    s3.write_bytes("big", data)
    chunks = list(s3.iter_chunks("big", chunk_size=64 * 1024))
    assert len(chunks) >= 17
    assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)
    assert b"".join(chunks) == data


def test_child_shares_the_client_and_nests_the_prefix(
    s3: S3Store, s3_bucket: tuple[Endpoint, str]
) -> None:
    _, bucket = s3_bucket
    child = s3.child("exports/2024-01-01-00-00-00/")
    assert child.client is s3.client
    assert child.url == f"s3://{bucket}/{PREFIX}/exports/2024-01-01-00-00-00"
    child.write_bytes("manifest", b"{}")
    assert s3.read_bytes("exports/2024-01-01-00-00-00/manifest") == b"{}"
    assert child.list_dir().files == [ObjectInfo("manifest", 2)]


def test_list_dir_returns_sorted_files_with_sizes_and_folders(s3: S3Store) -> None:
    for key, data in [
        ("run/b.txt", b"bb"),
        ("run/_SUCCESS", b""),
        ("run/a.txt", b"a"),
        ("run/zeta/x", b"1"),
        ("run/alpha/deeper/x", b"1"),
        ("other/x", b"1"),
    ]:
        s3.write_bytes(key, data)
    assert s3.list_dir("run") == Listing(
        files=[
            ObjectInfo("run/_SUCCESS", 0),
            ObjectInfo("run/a.txt", 1),
            ObjectInfo("run/b.txt", 2),
        ],
        folders=["alpha", "zeta"],
    )
    assert s3.list_dir() == Listing(folders=["other", "run"])
    assert s3.list_dir("run/alpha/") == Listing(folders=["deeper"])


def test_list_dir_of_an_empty_prefix_is_not_found(s3: S3Store) -> None:
    s3.write_bytes("run/a", b"1")
    with pytest.raises(NotFoundError, match=re.escape(f"{s3.url}/nothing-here/")):
        s3.list_dir("nothing-here")


def test_list_dir_follows_every_page(s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    store = open_s3(endpoint, bucket)
    names = [f"part-{i:05d}" for i in range(1003)]
    folders = ["sub-a", "sub-b", "sub-c"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: store.write_bytes(key, b"x"), names))
        list(pool.map(lambda folder: store.write_bytes(f"{folder}/x", b"x"), folders))
    small_pages = S3Store(store.client, bucket, PREFIX, page_size=7)
    for lister, pages in [(store, 2), (small_pages, math.ceil(1006 / 7))]:
        with recorded_calls(lister) as calls:
            listing = lister.list_dir()
        assert calls == ["ListObjectsV2"] * pages
        assert [info.key for info in listing.files] == names
        assert listing.folders == folders


def test_open_write_of_a_small_object_is_one_put(s3: S3Store) -> None:
    with recorded_calls(s3) as calls, s3.open_write("small") as writer:
        writer.write(b"hello ")
        writer.write(b"world")
    assert calls == ["PutObject"]
    assert s3.read_bytes("small") == b"hello world"


def test_multipart_upload_reads_back_identical(s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    store = open_s3(endpoint, bucket, part_size=MIN_PART_SIZE)
    data = os.urandom(11 * MiB + 12345)
    step = MiB + 7
    with recorded_calls(store) as calls, store.open_write("big.bin") as writer:
        for start in range(0, len(data), step):
            writer.write(data[start : start + step])
    assert calls == [
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
    ]
    assert store.read_bytes("big.bin") == data
    assert pending_uploads(endpoint, bucket) == []


def test_failing_block_leaves_no_object_and_no_upload(s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    store = open_s3(endpoint, bucket, part_size=MIN_PART_SIZE)
    in_progress: list[str] = []
    with pytest.raises(BlockFailed):
        write_then_fail(
            store,
            "half.bin",
            os.urandom(6 * MiB),
            during=lambda: in_progress.extend(pending_uploads(endpoint, bucket)),
        )
    assert in_progress == [f"{PREFIX}/half.bin"]
    assert pending_uploads(endpoint, bucket) == []
    assert not store.exists("half.bin")
    with pytest.raises(NotFoundError):
        store.list_dir()


def test_failing_small_block_writes_nothing(s3: S3Store) -> None:
    with recorded_calls(s3) as calls, pytest.raises(BlockFailed):
        write_then_fail(s3, "f", b"data")
    assert calls == []
    assert not s3.exists("f")


def test_missing_bucket_is_bucket_not_found(s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    store = open_s3(endpoint, f"{bucket}-missing")
    with pytest.raises(BucketNotFoundError, match=re.escape(f"{bucket}-missing")):
        store.list_dir()
    with pytest.raises(BucketNotFoundError):
        store.read_bytes("key")
    with pytest.raises(BucketNotFoundError):
        store.write_bytes("key", b"1")


def test_missing_key_is_not_found_naming_the_url(s3: S3Store) -> None:
    url = f"{s3.url}/run/missing"
    with pytest.raises(NotFoundError, match=re.escape(url)) as raised:
        s3.read_bytes("run/missing")
    assert not isinstance(raised.value, BucketNotFoundError)
    with pytest.raises(NotFoundError, match=re.escape(url)):
        next(s3.iter_chunks("run/missing"))


def test_wrong_secret_key_is_access_denied(s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    if endpoint.name != "rclone":
        pytest.skip(f"{endpoint.name} accepts any signature")
    open_s3(endpoint, bucket).write_bytes("f", b"1")
    store = open_s3(endpoint, bucket, secret_key="not-the-secret")
    with pytest.raises(AccessDeniedError, match="SignatureDoesNotMatch") as raised:
        store.read_bytes("f")
    assert raised.value.action == "s3:GetObject"
    assert raised.value.resource == f"s3://{bucket}/{PREFIX}/f"
    with pytest.raises(AccessDeniedError) as raised:
        store.exists("f")
    assert raised.value.action == "s3:GetObject"
    with pytest.raises(AccessDeniedError) as raised:
        store.list_dir()
    assert raised.value.action == "s3:ListBucket"


def test_exists_and_delete(s3: S3Store) -> None:
    assert not s3.exists("f")
    s3.write_bytes("f", b"1")
    assert s3.exists("f")
    s3.delete("f")
    assert not s3.exists("f")
    s3.delete("f")
    with pytest.raises(NotFoundError):
        s3.read_bytes("f")


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://bucket/a/b/", "bucket", "a/b"),
        ("s3a://bucket/a", "bucket", "a"),
        ("s3n://bucket/a", "bucket", "a"),
        ("S3://bucket/a", "bucket", "a"),
    ],
)
def test_open_store_accepts_s3_urls(url: str, bucket: str, prefix: str) -> None:
    store = open_store(url, StoreConfig(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == (bucket, prefix)
    assert store.url == (f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}")


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "gs://bucket/a", "https://host/a"])
def test_open_store_rejects_other_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="s3://"):
        open_store(url)
