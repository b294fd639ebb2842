"""One export task: scan one segment of a table into data files of the backup folder.

Runs in a worker process (or inline). Pages go straight from the raw Scan body to data
lines; one page is held at a time. Each data file is visible only once complete, and a
``PartWritten`` event then reports it with the key of its last item, which is where a
resumed export starts that segment again.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import secrets
import uuid
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.ops import ScanPage, scan_page
from ddbpipe.dynamo.retry import RetryPolicy, call_with_retries
from ddbpipe.formats import ddbjson, ion
from ddbpipe.formats.datapipeline import encode_page
from ddbpipe.items import Item
from ddbpipe.stores import Store, StoreConfig, Writer
from ddbpipe.transfer.readers import FORMAT_DATAPIPELINE, FORMAT_DYNAMODB_JSON, FORMAT_ION
from ddbpipe.transfer.worker import WorkerContext

__all__ = [
    "MAX_RCU_PER_PAGE",
    "PageRead",
    "PartSink",
    "PartWritten",
    "SegmentResult",
    "SegmentTask",
    "data_file_name",
    "run_segment",
]

# A 1 MB page read with eventual consistency: DynamoDB's largest page.
MAX_RCU_PER_PAGE = 128.0
_BYTES_PER_RCU = 4096
_ITEM_SIZE_SMOOTHING = 0.3


@dataclass(frozen=True)
class SegmentTask:
    """Scan segment ``segment`` of ``total_segments`` of ``table`` into ``folder_url``."""

    table: str
    segment: int
    total_segments: int
    start_key: Item | None
    key_names: tuple[str, ...]
    consistent_read: bool
    dynamo: DynamoConfig
    folder_url: str
    store: StoreConfig
    max_items_per_file: int
    average_item_bytes: float
    retry: RetryPolicy
    format: str = FORMAT_DATAPIPELINE


@dataclass(frozen=True)
class PageRead:
    """Progress: one page was read and written."""

    segment: int
    items: int
    bytes: int
    consumed: float


@dataclass(frozen=True)
class PartWritten:
    """A data file is complete; ``resume_key`` is the key of its last item."""

    segment: int
    key: str
    items: int
    bytes: int
    resume_key: Item
    md5: str | None = None


@dataclass(frozen=True)
class SegmentResult:
    """A segment scanned to its end, with every data file it wrote."""

    segment: int
    items: int
    bytes: int
    consumed: float
    pages: int
    parts: tuple[PartWritten, ...]


class PartSink:
    """Data files being written from a stream of items, rolled over every ``max_items``.

    Each file becomes visible only when complete; ``parts`` lists the files finished,
    each reported to ``emit`` too, with the key of its last item (``key_names``).
    """

    def __init__(
        self,
        store: Store,
        *,
        format: str,
        max_items: int,
        key_names: tuple[str, ...],
        segment: int,
        emit: Callable[[object], None],
        new_name: Callable[[], str] | None = None,
    ) -> None:
        self._store = store
        self._format = format
        self._max_items = max_items
        self._key_names = key_names
        self._segment = segment
        self._emit = emit
        self._new_name = new_name or (lambda: data_file_name(format))
        self._opened: AbstractContextManager[Writer] | None = None
        self._writer: Writer | None = None
        self._key = ""
        self._items = 0
        self._bytes = 0
        self._last: Item | None = None
        self._native = format in (FORMAT_DYNAMODB_JSON, FORMAT_ION)
        self._encode = ion.encode_item if format == FORMAT_ION else ddbjson.encode_item
        self._compressor: Any = None
        self._digest = hashlib.md5()
        self.parts: list[PartWritten] = []

    def write(self, items: list[Item]) -> int:
        """Append ``items``; return the bytes written."""
        written = 0
        while items:
            if self._writer is None:
                self._key = self._new_name()
                self._opened = self._store.open_write(self._key)
                self._writer = self._opened.__enter__()
                if self._native:
                    self._compressor = zlib.compressobj(wbits=31)
                    self._digest = hashlib.md5()
            room = self._max_items - self._items
            chunk, items = items[:room], items[room:]
            if self._native:
                data = b"".join(map(self._encode, chunk))
                self._put(self._compressor.compress(data))
            else:
                data = encode_page(chunk)
                self._writer.write(data)
            self._items += len(chunk)
            self._bytes += len(data)
            self._last = chunk[-1]
            written += len(data)
            if self._items >= self._max_items:
                self.close()
        return written

    def close(self) -> None:
        """Finish the current data file, if any, and report it."""
        if self._opened is None or self._last is None:
            return
        md5 = None
        if self._native:
            self._put(self._compressor.flush())
            md5 = base64.b64encode(self._digest.digest()).decode("ascii")
        self._opened.__exit__(None, None, None)
        resume_key = {name: self._last[name] for name in self._key_names}
        part = PartWritten(self._segment, self._key, self._items, self._bytes, resume_key, md5)
        self.parts.append(part)
        self._emit(part)
        self._opened, self._writer, self._items, self._bytes, self._last = None, None, 0, 0, None

    def _put(self, data: bytes) -> None:
        """Write compressed bytes, hashing them as DynamoDB's manifest does."""
        if data and self._writer is not None:
            self._digest.update(data)
            self._writer.write(data)

    def abort(self, error: BaseException) -> None:
        """Drop the current data file: it never becomes visible."""
        if self._opened is not None:
            self._opened.__exit__(type(error), error, error.__traceback__)
            self._opened, self._writer = None, None


def data_file_name(format: str) -> str:
    """A new data file's key: a UUID (Data Pipeline), or ``data/`` + 26 base32 characters
    + ``.json.gz`` or ``.ion.gz`` (DynamoDB's native export)."""
    if format in (FORMAT_DYNAMODB_JSON, FORMAT_ION):
        name = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()
        suffix = "ion" if format == FORMAT_ION else "json"
        return f"data/{name}.{suffix}.gz"
    return str(uuid.uuid4())


def run_segment(
    task: SegmentTask,
    context: WorkerContext,
    new_name: Callable[[], str] | None = None,
) -> SegmentResult:
    """Scan the task's segment to its end, writing every item once; see the module doc."""
    client = context.dynamo_client(task.dynamo)
    sink = PartSink(
        context.store(task.folder_url, task.store),
        format=task.format,
        max_items=task.max_items_per_file,
        key_names=task.key_names,
        segment=task.segment,
        emit=context.emit,
        new_name=new_name,
    )
    bucket = context.bucket
    bytes_per_rcu = _BYTES_PER_RCU if task.consistent_read else 2 * _BYTES_PER_RCU
    rcu_per_item = max(task.average_item_bytes, 1.0) / bytes_per_rcu
    start_key = task.start_key
    items = written = pages = 0
    consumed = 0.0
    what = f"Scan of table {task.table!r} segment {task.segment}"
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived dicts: the cyclic collector only costs time here
    try:
        while True:
            taken = bucket.take(MAX_RCU_PER_PAGE)
            limit = None if taken >= MAX_RCU_PER_PAGE else max(1, int(taken / rcu_per_item))
            page: ScanPage = call_with_retries(
                _scan(client, task, start_key, limit), task.retry, what=what
            )
            bucket.settle(taken, page.consumed)
            if page.items and page.consumed > 0:
                observed = page.consumed / len(page.items)
                rcu_per_item += _ITEM_SIZE_SMOOTHING * (observed - rcu_per_item)
            size = sink.write(page.items)
            items += len(page.items)
            written += size
            consumed += page.consumed
            pages += 1
            context.emit(PageRead(task.segment, len(page.items), size, page.consumed))
            start_key = page.last_key
            if not start_key:
                break
        sink.close()
    except BaseException as exc:
        sink.abort(exc)
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    return SegmentResult(task.segment, items, written, consumed, pages, tuple(sink.parts))


def _scan(client: Any, task: SegmentTask, start_key: Item | None, limit: int | None) -> Any:
    def call() -> ScanPage:
        return scan_page(
            client,
            task.table,
            segment=task.segment,
            total_segments=task.total_segments,
            start_key=start_key,
            limit=limit,
            consistent_read=task.consistent_read,
        )

    return call
