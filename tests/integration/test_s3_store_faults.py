"""S3Store through the fault proxy: every call retried, cut reads resumed, nothing left open.

Each S3 server in turn (moto, and rclone, which checks signatures), behind a proxy that
throttles (503 SlowDown), fails (500 InternalError, before or after forwarding), drops the
connection (before or after forwarding) or cuts a response body short.
"""

from __future__ import annotations

import os

import pytest

from ddbpipe.errors import DataError
from ddbpipe.stores import ObjectInfo, S3Store
from tests.support.fault_plan import FAULT_KINDS, FaultKind, FaultPlan
from tests.support.fault_proxy import (
    CutBody,
    ExactRule,
    FaultProxyFactory,
    ProxyRequest,
    Throttle,
)
from tests.support.s3_objects import GetLog, object_keys, open_uploads, s3_store
from tests.support.servers import Endpoint

MiB = 1 << 20
PREFIX = "store"

STORE_CALLS = (
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "GetObject",
    "HeadObject",
    "ListObjectsV2",
    "DeleteObject",
    "ListMultipartUploads",
    "AbortMultipartUpload",
)
ANSWERED_WITH_A_BODY = frozenset(
    {
        "CreateMultipartUpload",
        "CompleteMultipartUpload",
        "GetObject",
        "ListObjectsV2",
        "ListMultipartUploads",
    }
)
"""The calls whose answer has a body that a cut can cut short."""
LOST_ANSWERS: tuple[FaultKind, ...] = ("drop-after", "error-after", "cut")
"""Faults after the server did the work: the client cannot tell that it was done."""


class BlockFailed(Exception):
    """Raised inside an ``open_write`` block by the tests."""


def write_then_fail(store: S3Store, key: str, data: bytes) -> None:
    """Write ``data`` to ``key`` in an ``open_write`` block that then raises BlockFailed."""
    with store.open_write(key) as writer:
        writer.write(data)
        raise BlockFailed


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_call_is_retried_through_each_fault(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory, kind: FaultKind
) -> None:
    endpoint, bucket = s3_bucket
    calls = [c for c in STORE_CALLS if kind != "cut" or c in ANSWERED_WITH_A_BODY]
    plan = FaultPlan({call: [kind] for call in calls} | {"ListObjectsV2": [kind, kind]})
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    store = s3_store(endpoint, bucket, PREFIX, url=proxy.url, page_size=1)  # pages faulted too
    big = os.urandom(5 * MiB + 5)
    endpoint.client("s3").create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}/stale")

    store.write_bytes("small", b"small object")
    with store.open_write("big") as writer:  # 2 parts
        writer.write(big)
    listing = store.list_dir()
    read_back = (store.read_bytes("big"), store.read_bytes("small"))
    size = store.size("small")
    cleaned = store.abort_incomplete_writes()
    store.delete("small")

    assert plan.missed(proxy) == {}
    assert listing.files == [ObjectInfo("big", len(big)), ObjectInfo("small", 12)]
    assert read_back == (big, b"small object")
    assert size == 12
    assert cleaned == 1
    assert open_uploads(endpoint, bucket) == []
    assert object_keys(endpoint, bucket) == [f"{PREFIX}/big"]


def test_a_cut_download_resumes_at_the_byte_where_it_stopped(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    data = os.urandom(6 * MiB + 3)
    s3_store(endpoint, bucket, PREFIX).write_bytes("data", data)  # a multipart ETag
    etag = endpoint.client("s3").head_object(Bucket=bucket, Key=f"{PREFIX}/data")["ETag"]
    log = GetLog()
    first_cut = ExactRule(CutBody(keep_bytes=2_500_000), "GetObject", times=1)
    second_cut = ExactRule(CutBody(keep_bytes=1_000_000), "GetObject", times=1)
    proxy = fault_proxy(endpoint, exact_rules=[log.rule, first_cut, second_cut])
    store = s3_store(endpoint, bucket, PREFIX, url=proxy.url)

    received = b"".join(store.iter_chunks("data", chunk_size=256 * 1024))

    assert received == data
    assert log.starts == [0, 2_500_000, 3_500_000]
    assert log.gets[1:] == [(f"bytes={start}-", etag) for start in (2_500_000, 3_500_000)]
    asked = sum(len(data) - start for start in log.starts)
    assert asked - len(data) == (len(data) - 2_500_000) + (len(data) - 3_500_000)
    assert (proxy.rule_stats(first_cut).fired, proxy.rule_stats(second_cut).fired) == (1, 1)
    assert proxy.stats.cut_bodies == 2


def test_an_object_replaced_while_a_cut_read_resumes_is_a_data_error(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    direct = endpoint.client("s3")
    direct.put_object(Bucket=bucket, Key=f"{PREFIX}/data", Body=b"old " * MiB)

    replaced: list[str] = []

    def replace_before_resuming(request: ProxyRequest) -> bool:
        if request.header("Range") and not replaced:
            direct.put_object(Bucket=bucket, Key=f"{PREFIX}/data", Body=b"new " * MiB)
            replaced.append(request.header("Range") or "")
        return False

    replace = ExactRule(Throttle(), "GetObject", when=replace_before_resuming, times=0)
    cut = ExactRule(CutBody(keep_bytes=MiB), "GetObject", times=1)
    proxy = fault_proxy(endpoint, exact_rules=[replace, cut])
    store = s3_store(endpoint, bucket, PREFIX, url=proxy.url)

    with pytest.raises(DataError, match="changed while it was being read"):
        store.read_bytes("data")
    assert proxy.rule_stats(cut).fired == 1
    assert replaced == [f"bytes={MiB}-"]
    assert store.read_bytes("data") == b"new " * MiB


@pytest.mark.parametrize("kind", LOST_ANSWERS)
def test_a_completion_whose_answer_is_lost_still_succeeds(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory, kind: FaultKind
) -> None:
    endpoint, bucket = s3_bucket
    plan = FaultPlan({"CompleteMultipartUpload": [kind]})
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    store = s3_store(endpoint, bucket, PREFIX, url=proxy.url)
    data = os.urandom(6 * MiB)

    with store.open_write("done") as writer:
        writer.write(data)

    assert plan.missed(proxy) == {}
    assert plan.requests("CompleteMultipartUpload") == 2  # the retry found it completed
    assert s3_store(endpoint, bucket, PREFIX).read_bytes("done") == data
    assert open_uploads(endpoint, bucket) == []


def test_a_start_whose_answer_is_lost_leaves_no_upload_open(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    plan = FaultPlan({"CreateMultipartUpload": ["drop-after", "cut"]})
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    store = s3_store(endpoint, bucket, PREFIX, url=proxy.url)
    data = os.urandom(6 * MiB)
    endpoint.client("s3").create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}/done-other")

    with store.open_write("done") as writer:
        writer.write(data)
    with pytest.raises(BlockFailed):
        write_then_fail(store, "failed", data)

    assert plan.missed(proxy) == {}
    assert plan.requests("CreateMultipartUpload") == 4  # each first answer was lost
    assert s3_store(endpoint, bucket, PREFIX).read_bytes("done") == data
    assert [key for key, _ in open_uploads(endpoint, bucket)] == [f"{PREFIX}/done-other"]


def test_an_abort_whose_answer_is_lost_still_succeeds(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    plan = FaultPlan({"AbortMultipartUpload": ["drop-after", "error-after"]})
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    store = s3_store(endpoint, bucket, PREFIX, url=proxy.url)
    endpoint.client("s3").create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}/stale")

    with pytest.raises(BlockFailed) as raised:
        write_then_fail(store, "failed", os.urandom(6 * MiB))
    cleaned = store.abort_incomplete_writes()

    assert plan.missed(proxy) == {}
    assert getattr(raised.value, "__notes__", []) == []  # no "aborting ... failed" note
    assert cleaned == 1
    assert open_uploads(endpoint, bucket) == []
    assert object_keys(endpoint, bucket) == []


def test_cleaning_up_with_nothing_open_finds_nothing(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    plan = FaultPlan({"ListMultipartUploads": ["throttle", "drop"]})
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    store = s3_store(endpoint, bucket, PREFIX, url=proxy.url)

    assert store.abort_incomplete_writes() == 0
    store.write_bytes("file", b"x")
    assert store.abort_incomplete_writes() == 0
    assert plan.missed(proxy) == {}
