"""One import task: put every item of one data file into the table, or fail loudly.

Lines are decoded and checked against DynamoDB's rules and the table's key before they
join a batch, so a bad item never reaches DynamoDB. Batches hold up to 25 items with
distinct keys (for a repeated key the later line wins). ``UnprocessedItems`` are sent
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

from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.ops import MAX_BATCH_ITEMS, write_batch
from ddbpipe.dynamo.retry import RetryPolicy
from ddbpipe.dynamo.throttle import TokenBucket
from ddbpipe.errors import (
    DataError,
    DdbpipeError,
    ItemError,
    RetriableError,
    RetriesExhaustedError,
)
from ddbpipe.formats.datapipeline import LineStats
from ddbpipe.items import MAX_ITEM_SIZE, Item, KeySchema, check_key, item_size, key_of
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.readers import BackupFile, Decoder, decoder_for, file_lines
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
    format: str
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
        """The data file's key in the backup folder."""
        return self.file.key

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


class _Batches:
    """Puts items in batches of 25 distinct keys, paced by the bucket, retried until written."""

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
        self.pending: dict[tuple[object, ...], tuple[Item, float]] = {}
        self.duplicates = 0
        self.processed = 0
        self.written = 0
        self.consumed = 0.0

    def add(self, item: Item, size: int) -> bool:
        """Queue ``item``; return True when a batch was sent."""
        key = key_of(item, self.task.schema)
        if key in self.pending:
            self.duplicates += 1
            del self.pending[key]  # the later line wins, and goes last
        # A put costs a WCU per started KB, at least one; ``size`` is never below the item's.
        self.pending[key] = (item, float(max(1, -(-size // _BYTES_PER_WCU))))
        if len(self.pending) >= MAX_BATCH_ITEMS:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write every queued item."""
        items = [item for item, _ in self.pending.values()]
        units = {id(item): cost for item, cost in self.pending.values()}
        self.pending.clear()
        self.processed += len(items)
        if items and self.client is not None:
            self._write(items, units)
            self.written += len(items)

    def _write(self, items: list[Item], units: dict[int, float]) -> None:
        """Put ``items``; ``units`` holds each item's expected WCU, by ``id``."""
        assert self.client is not None
        retries = 0
        while items:
            taken = self.bucket.take(sum(units.get(id(item), 1.0) for item in items))
            try:
                result = write_batch(self.client, self.task.table, items)
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


def _checked(line: bytes, number: int, task: FileTask, decode: Decoder) -> tuple[Item, int]:
    item = decode(line, task.url, number)
    try:
        check_key(item, task.schema)
        # A line is never shorter than the item's size, so only long lines need counting.
        size = len(line) if len(line) <= MAX_ITEM_SIZE else item_size(item)
        if size > MAX_ITEM_SIZE:
            raise ItemError(f"item is {size} bytes; DynamoDB's limit is {MAX_ITEM_SIZE}")
    except ItemError as exc:
        raise exc.located(task.url, number) from None
    return item, size


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
    try:
        decode = decoder_for(task.format)
        for number, line in file_lines(store, task.file, stats):
            if number <= task.start_line:
                continue
            last = number
            try:
                item, size = _checked(line, number, task, decode)
            except DataError as exc:
                if task.on_error == "fail":
                    raise
                skipped += 1
                context.emit(
                    LineRejected(task.url, number, exc.reason, line.decode(errors="replace"))
                )
                continue
            read += 1
            if batches.add(item, size):
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
    )
