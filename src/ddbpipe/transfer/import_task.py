"""One import task: put every item of one data file into the table, or fail loudly.

Records are decoded and checked against DynamoDB's rules and the table's key before
they join a batch, so a malformed item never reaches DynamoDB. A file of an incremental
export holds changes: each puts its new image, or deletes its key when the item has
none. Batches hold up to 25 requests with distinct keys (for a repeated key the later
record wins), and no more capacity than the bucket holds, so that large items go in
small batches. ``UnprocessedItems`` are sent again with backoff until written; when the
retry budget runs out the task fails, naming how many items are unwritten.

An item DynamoDB refuses (a ``ValidationException``, such as an index key of the wrong
type) is found by splitting its batch, and is then treated as a bad line: the import
fails naming its file and line, or with ``on_error="skip"`` the line is rejected, with
DynamoDB's reason, and every other item is written.

Progress events say which line every earlier line is written up to, which is where a
resumed import starts the file again, and how many items DynamoDB acknowledged. The
periodic ones also carry what the file came to up to that line, so that an attempt run
after a lost one goes on from there (``FileTask.after``) and still counts the whole file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import orjson

from ddbpipe.backups.reader import BackupFile, FileReader, RecordFormat
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.ops import MAX_BATCH_ITEMS, WriteRequest, write_requests
from ddbpipe.dynamo.throttle import TokenBucket
from ddbpipe.errors import DataError, ItemError, ItemRejectedError, RetriableError, ServiceError
from ddbpipe.formats.lines import LineStats
from ddbpipe.items import MAX_ITEM_SIZE, Item, KeySchema, check_key, item_size, key_of
from ddbpipe.retry import Backoff, RetryPolicy
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.worker import WorkerContext
from ddbpipe.wording import plural

__all__ = ["FileProgress", "FileResult", "FileTask", "LineRejected", "OnError", "run_file"]

OnError = Literal["fail", "skip"]
_BYTES_PER_WCU = 1024
_PROGRESS_EVERY = 20  # batches
_REJECTED = "ValidationException"


@dataclass(frozen=True)
class FileTask:
    """Put the items of data file ``file`` (after line ``start_line``) into ``table``."""

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
    carried: FileResult | None = None

    @property
    def url(self) -> str:
        """The data file's URL: its identity in checkpoints, and its name in messages."""
        return self.file.url

    @property
    def label(self) -> str:
        """The task in messages."""
        return f"the import of {self.url} into table {self.table!r}"

    def after(self, event: object) -> FileTask:
        """The task that goes on after ``event``, which an earlier attempt emitted: from
        the line it checkpointed, carrying the counts of the lines before."""
        if isinstance(event, FileProgress) and event.url == self.url and event.counts:
            return replace(self, start_line=event.line, carried=event.counts)
        return self


@dataclass(frozen=True)
class FileProgress:
    """Every line of ``url`` up to ``line`` is written; ``items`` were acknowledged,
    ``bytes`` read and ``consumed`` capacity used since the last event; ``counts``, when
    given, are the file's counts up to ``line``."""

    url: str
    line: int
    items: int
    consumed: float
    bytes: int
    counts: FileResult | None = None


@dataclass(frozen=True)
class LineRejected:
    """A line that was skipped (``on_error="skip"``), with the reason."""

    url: str
    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class FileResult:
    """A data file written to its end."""

    url: str
    lines: int
    items_read: int
    written: int
    skipped: int
    duplicates: int
    blank_lines: int
    consumed: float
    deleted: int = 0


@dataclass
class _Pending:
    """A request waiting in a batch, with where it came from."""

    request: WriteRequest
    cost: float
    line: int
    record: bytes


class _Batches:
    """Sends requests in batches of distinct keys, paced by the bucket, retried until
    written; see the module doc."""

    def __init__(
        self,
        client: DynamoClient | None,
        task: FileTask,
        bucket: TokenBucket,
        sleep: Callable[[float], None],
        reject: Callable[[ItemRejectedError, int, bytes], None],
    ) -> None:
        self.client = client
        self.task = task
        self.bucket = bucket
        self.sleep = sleep
        self.reject = reject
        self.pending: dict[tuple[object, ...], _Pending] = {}
        self.pending_cost = 0.0
        self.most_cost = bucket.burst  # read again after each batch: a job may re-share it
        self.duplicates = 0
        self.processed = 0
        self.written = 0
        self.deleted = 0
        self.consumed = 0.0

    def add(self, key: tuple[object, ...], pending: _Pending) -> bool:
        """Queue a request for the item with ``key``; return True when a batch was sent."""
        earlier = self.pending.pop(key, None)
        if earlier is not None:
            self.duplicates += 1  # the later record wins, and goes last
            self.pending_cost -= earlier.cost
        self.pending[key] = pending
        self.pending_cost += pending.cost
        if len(self.pending) >= MAX_BATCH_ITEMS or self.pending_cost >= self.most_cost:
            self.flush()
            self.most_cost = self.bucket.burst
            return True
        return False

    def flush(self) -> None:
        """Send every queued request."""
        batch = list(self.pending.values())
        self.pending.clear()
        self.pending_cost = 0.0
        self.processed += len(batch)
        if batch and self.client is not None:
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        """Write ``batch``, splitting it to find the items DynamoDB refuses."""
        try:
            self._send(batch)
        except ServiceError as exc:
            if exc.code != _REJECTED:
                raise
            if len(batch) == 1:
                (one,) = batch
                error = ItemRejectedError(
                    f"DynamoDB refused the item: {exc.detail}", source=self.task.url, line=one.line
                )
                self.reject(error, one.line, one.record)
                return
            middle = len(batch) // 2
            self._write(batch[:middle])
            self._write(batch[middle:])

    def _send(self, batch: list[_Pending]) -> None:
        """Send ``batch`` until every request of it is written."""
        assert self.client is not None
        items = [p.request for p in batch]
        costs = [p.cost for p in batch]
        count = len(items)
        backoff = Backoff(
            self.task.retry,
            lambda: (
                f"writing {plural(count, 'item')} from {self.task.url} to table {self.task.table!r}"
            ),
            sleep=self.sleep,
        )
        while items:
            taken = self.bucket.take(sum(costs))
            try:
                result = write_requests(self.client, self.task.table, items)
            except RetriableError as exc:
                self.bucket.settle(taken, 0.0)
                backoff.failed(exc)
                continue
            self.bucket.settle(taken, result.consumed)
            self.consumed += result.consumed
            left = result.unprocessed
            self.written += len(items) - len(left)
            self.deleted += _deletes(items) - _deletes(left)
            if not left:
                return
            if len(left) < len(items):
                backoff.succeeded()
                backoff.pause()
            else:
                backoff.failed(
                    f"DynamoDB left {plural(len(left), 'item')} from {self.task.url} unprocessed "
                    f"in table {self.task.table!r}"
                )
            # DynamoDB returns the requests it left unprocessed: send those again.
            items, costs = left, [_cost(r) for r in left]


def _deletes(requests: list[WriteRequest]) -> int:
    return sum(1 for r in requests if "DeleteRequest" in r)


def _cost(request: WriteRequest) -> float:
    """The WCU a request returned unprocessed will use, estimated from its size."""
    return float(max(1, -(-len(orjson.dumps(request)) // _BYTES_PER_WCU)))


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


class _Reporter:
    """Progress events of one file: what was acknowledged, read and used since the last."""

    def __init__(self, task: FileTask, context: WorkerContext, batches: _Batches) -> None:
        self.task = task
        self.context = context
        self.batches = batches
        self.stats = LineStats()
        self.items = batches.written
        self.bytes = 0
        self.consumed = batches.consumed

    def report(self, line: int, counts: FileResult | None = None) -> None:
        batches = self.batches
        self.context.emit(
            FileProgress(
                self.task.url,
                line,
                batches.written - self.items,
                batches.consumed - self.consumed,
                self.stats.bytes - self.bytes,
                counts,
            )
        )
        self.items, self.consumed, self.bytes = batches.written, batches.consumed, self.stats.bytes


def run_file(task: FileTask, context: WorkerContext) -> FileResult:
    """Write every item of the task's file; see the module doc."""
    client = None if task.dry_run else context.dynamo_client(task.dynamo)
    store = context.store(task.folder_url, task.store)
    carried = task.carried or FileResult(task.url, task.start_line, 0, 0, 0, 0, 0, 0.0)
    skipped = carried.skipped

    def reject(error: DataError, number: int, record: bytes) -> None:
        nonlocal skipped
        if task.on_error == "fail":
            raise error
        skipped += 1
        context.emit(LineRejected(task.url, number, error.reason, record.decode(errors="replace")))

    batches = _Batches(client, task, context.bucket, context.sleep, reject)
    batches.written, batches.duplicates = carried.written, carried.duplicates
    batches.deleted, batches.consumed = carried.deleted, carried.consumed
    reporter = _Reporter(task, context, batches)
    read, sent = carried.items_read, 0
    last = written_through = task.start_line
    schema = task.schema
    request_of = _apply_change if task.format.changes else _put

    def counts(line: int) -> FileResult:
        """The file's counts up to ``line``, every line before it being written."""
        return FileResult(
            url=task.url,
            lines=line,
            items_read=read,
            written=batches.written,
            skipped=skipped,
            duplicates=batches.duplicates,
            blank_lines=reporter.stats.blank_lines,
            consumed=batches.consumed,
            deleted=batches.deleted,
        )

    try:
        with context.gc_paused():
            reader = FileReader(store, task.file, task.format, reporter.stats)
            for number, record in reader:
                if number <= task.start_line:
                    continue
                last = number
                try:
                    key, request, size = request_of(reader, record, number, schema)
                except DataError as exc:
                    reject(exc, number, record)
                    continue
                read += 1
                cost = float(max(1, -(-size // _BYTES_PER_WCU)))  # a WCU per started KB
                if batches.add(key, _Pending(request, cost, number, record)):
                    written_through = number
                    sent += 1
                    context.check()
                    if sent % _PROGRESS_EVERY == 0:
                        reporter.report(number, counts(number))
            batches.flush()
    except BaseException:
        reporter.report(written_through)  # how far the file is written: a resume starts there
        raise
    result = counts(last)
    reporter.report(last, result)
    return result
