"""One import task: put every item of one data file into the table, or fail loudly.

Records are decoded and checked against DynamoDB's rules and the table's key before
they join a batch, so a bad item never reaches DynamoDB. A file of an incremental
export holds changes: each puts its new image, or deletes its key when the item has
none. Batches hold up to 25 requests with distinct keys (for a repeated key the later
record wins). ``UnprocessedItems`` are sent
again with backoff until written; when the retry budget runs out the task fails, naming
how many items are unwritten. Progress events say which line every earlier line is
written up to, which is where a resumed import starts the file again.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ddbpipe.backups.reader import BackupFile, FileReader, RecordFormat
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.ops import MAX_BATCH_ITEMS, WriteRequest, write_requests
from ddbpipe.dynamo.throttle import TokenBucket
from ddbpipe.errors import (
    DataError,
    DdbpipeError,
    ItemError,
    RetriableError,
    RetriesExhaustedError,
)
from ddbpipe.formats.lines import LineStats
from ddbpipe.items import MAX_ITEM_SIZE, Item, KeySchema, check_key, item_size, key_of
from ddbpipe.retry import RetryPolicy
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.worker import WorkerContext

__all__ = ["FileProgress", "FileResult", "FileTask", "LineRejected", "run_file"]

OnError = Literal["fail", "skip"]
_BYTES_PER_WCU = 1024
_PROGRESS_EVERY = 20  # batches


@dataclass(frozen=True)
class FileTask:
    """Put the items of data file ``key`` (from ``start_line`` on) into ``table``."""

    table: str
    file: BackupFile
    format: RecordFormat
    start_line: int
    schema: KeySchema
    folder_url: str
    store: StoreConfig
    dynamo: DynamoConfig
    on_error: OnError
    dry_run: bool
    retry: RetryPolicy

    @property
    def key(self) -> str:
        """The data file's identity in checkpoints: its URL."""
        return self.file.url

    @property
    def url(self) -> str:
        """The data file's URL, for messages."""
        return self.file.url


@dataclass(frozen=True)
class FileProgress:
    """Every line of ``key`` up to ``line`` is done; counts are since the last event."""

    key: str
    line: int
    items: int
    consumed: float
    bytes: int


@dataclass(frozen=True)
class LineRejected:
    """A line that was skipped (``--on-error skip``), with the reason."""

    url: str
    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class FileResult:
    """A data file written to its end."""

    key: str
    lines: int
    items_read: int
    written: int
    skipped: int
    duplicates: int
    blank_lines: int
    consumed: float
    deleted: int = 0


class _Batches:
    """Sends requests in batches of 25 distinct keys, paced by the bucket, retried until
    written."""

    def __init__(
        self,
        client: DynamoClient | None,
        task: FileTask,
        bucket: TokenBucket,
        sleep: Callable[[float], None],
    ) -> None:
        self.client = client
        self.task = task
        self.bucket = bucket
        self.sleep = sleep
        self.rng = random.Random()
        self.pending: dict[tuple[object, ...], tuple[WriteRequest, float]] = {}
        self.duplicates = 0
        self.processed = 0
        self.written = 0
        self.deleted = 0
        self.consumed = 0.0

    def add(self, key: tuple[object, ...], request: WriteRequest, size: int) -> bool:
        """Queue ``request`` for the item with ``key``; return True when a batch was sent."""
        if key in self.pending:
            self.duplicates += 1
            del self.pending[key]  # the later record wins, and goes last
        # A write costs a WCU per started KB, at least one; ``size`` is never below the item's.
        self.pending[key] = (request, float(max(1, -(-size // _BYTES_PER_WCU))))
        if len(self.pending) >= MAX_BATCH_ITEMS:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Send every queued request."""
        requests = [request for request, _ in self.pending.values()]
        units = {id(request): cost for request, cost in self.pending.values()}
        self.pending.clear()
        self.processed += len(requests)
        if requests and self.client is not None:
            self._write(requests, units)
            self.written += len(requests)
            self.deleted += sum(1 for r in requests if "DeleteRequest" in r)

    def _write(self, items: list[WriteRequest], units: dict[int, float]) -> None:
        """Send ``items``; ``units`` holds each request's expected WCU, by ``id``."""
        assert self.client is not None
        retries = 0
        while items:
            taken = self.bucket.take(sum(units.get(id(item), 1.0) for item in items))
            try:
                result = write_requests(self.client, self.task.table, items)
            except RetriableError as exc:
                self.bucket.settle(taken, 0.0)
                retries = self._backoff(retries, len(items), exc)
                continue
            self.bucket.settle(taken, result.consumed)
            self.consumed += result.consumed
            if not result.unprocessed:
                return
            progress = len(result.unprocessed) < len(items)
            items = result.unprocessed
            retries = 0 if progress else self._backoff(retries, len(items), None)
            if progress:
                self.sleep(self.task.retry.delay(0, self.rng))

    def _backoff(self, retries: int, unwritten: int, error: Exception | None) -> int:
        if retries + 1 >= self.task.retry.max_attempts:
            why = f": {error}" if error else " (DynamoDB kept returning them unprocessed)"
            raise RetriesExhaustedError(
                f"{unwritten} item(s) from {self.task.url} could not be written to table "
                f"{self.task.table!r} after {self.task.retry.max_attempts} attempts{why}"
            )
        self.sleep(self.task.retry.delay(retries, self.rng))
        return retries + 1


_Request = tuple[tuple[object, ...], WriteRequest, int]


def _checked_size(item: Item, record: bytes) -> int:
    # A record is never shorter than the item's size, so only long records need counting.
    size = len(record) if len(record) <= MAX_ITEM_SIZE else item_size(item)
    if size > MAX_ITEM_SIZE:
        raise ItemError(f"item is {size} bytes; DynamoDB's limit is {MAX_ITEM_SIZE}")
    return size


def _put(reader: FileReader, record: bytes, number: int, schema: KeySchema) -> _Request:
    """The put of the item one record holds, checked."""
    item = reader.item(record, number)
    try:
        check_key(item, schema)
        size = _checked_size(item, record)
    except ItemError as exc:
        raise exc.located(reader.url, number) from None
    return key_of(item, schema), {"PutRequest": {"Item": item}}, size


def _apply_change(reader: FileReader, record: bytes, number: int, schema: KeySchema) -> _Request:
    """The put of a change's new image, or the delete of its key when it has none."""
    change = reader.change(record, number)
    try:
        check_key(change.keys, schema)
        key = key_of(change.keys, schema)
        image = change.new_image
        if image is None:
            keys = {a.name: change.keys[a.name] for a in schema.attributes}
            return key, {"DeleteRequest": {"Key": keys}}, 1
        check_key(image, schema)
        if key_of(image, schema) != key:
            raise ItemError("NewImage has another key than Keys")
        return key, {"PutRequest": {"Item": image}}, _checked_size(image, record)
    except ItemError as exc:
        raise exc.located(reader.url, number) from None


def run_file(task: FileTask, context: WorkerContext) -> FileResult:
    """Write every item of the task's file; see the module doc."""
    client = None if task.dry_run else context.dynamo_client(task.dynamo)
    store = context.store(task.folder_url, task.store)
    batches = _Batches(client, task, context.bucket, context.sleep)
    stats = LineStats()
    read = skipped = sent = 0
    reported_items = reported_bytes = 0
    reported_consumed = 0.0
    last = written_through = task.start_line
    gc_was_enabled = gc.isenabled()
    gc.disable()
    schema = task.schema
    request_of = _apply_change if task.format.changes else _put
    try:
        reader = FileReader(store, task.file, task.format, stats)
        for number, line in reader:
            if number <= task.start_line:
                continue
            last = number
            try:
                key, request, size = request_of(reader, line, number, schema)
            except DataError as exc:
                if task.on_error == "fail":
                    raise
                skipped += 1
                context.emit(
                    LineRejected(task.url, number, exc.reason, line.decode(errors="replace"))
                )
                continue
            read += 1
            if batches.add(key, request, size):
                written_through = number
                sent += 1
                if sent % _PROGRESS_EVERY == 0:
                    context.emit(
                        FileProgress(
                            task.key,
                            number,
                            batches.processed - reported_items,
                            batches.consumed - reported_consumed,
                            stats.bytes - reported_bytes,
                        )
                    )
                    reported_items, reported_consumed = batches.processed, batches.consumed
                    reported_bytes = stats.bytes
        batches.flush()
    except DdbpipeError:
        # Say how far the file is written, so that a resume starts there.
        context.emit(
            FileProgress(
                task.key,
                written_through,
                batches.processed - reported_items,
                batches.consumed - reported_consumed,
                stats.bytes - reported_bytes,
            )
        )
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    context.emit(
        FileProgress(
            task.key,
            last,
            batches.processed - reported_items,
            batches.consumed - reported_consumed,
            stats.bytes - reported_bytes,
        )
    )
    return FileResult(
        key=task.key,
        lines=last,
        items_read=read,
        written=batches.written,
        skipped=skipped,
        duplicates=batches.duplicates,
        blank_lines=stats.blank_lines,
        consumed=batches.consumed,
        deleted=batches.deleted,
    )
