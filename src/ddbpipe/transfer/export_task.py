"""One export task: scan one segment of a table into data files of the backup folder.

Runs in a worker process (or inline). Pages go straight from the raw Scan body to data
lines; one page is held at a time. Each data file is visible only once complete, and a
``PartWritten`` event then reports it with the key of its last item, which is where a
resumed export starts that segment again — and where an attempt run after a lost one
goes on (``SegmentTask.after``), its result listing the earlier attempts' files too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ddbpipe.backups.parts import Part, PartSink
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.ops import ScanPage, scan_page
from ddbpipe.formats.detect import FORMAT_DATAPIPELINE
from ddbpipe.items import Item
from ddbpipe.retry import RetryPolicy, call_with_retries
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.worker import WorkerContext

__all__ = [
    "MAX_RCU_PER_PAGE",
    "PageRead",
    "PartWritten",
    "SegmentResult",
    "SegmentTask",
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
    earlier_parts: tuple[Part, ...] = ()

    @property
    def label(self) -> str:
        """The task in messages."""
        return f"segment {self.segment} of {self.total_segments} of table {self.table!r}"

    def after(self, event: object) -> SegmentTask:
        """The task that goes on after ``event``, which an earlier attempt emitted: past
        the data file it finished, from the key of that file's last item."""
        if isinstance(event, PartWritten) and event.segment == self.segment:
            return replace(
                self, start_key=event.resume_key, earlier_parts=(*self.earlier_parts, event.part)
            )
        return self


@dataclass(frozen=True)
class PageRead:
    """Progress: one page was read and written."""

    segment: int
    items: int
    bytes: int
    consumed: float


@dataclass(frozen=True)
class PartWritten:
    """A data file of ``segment`` is complete; ``resume_key`` is the key of its last item."""

    segment: int
    part: Part
    resume_key: Item


@dataclass(frozen=True)
class SegmentResult:
    """A segment scanned to its end, with every data file it wrote (``parts``, those of
    earlier attempts first; the counts are this attempt's)."""

    segment: int
    items: int
    bytes: int
    consumed: float
    pages: int
    parts: tuple[Part, ...]


def run_segment(
    task: SegmentTask,
    context: WorkerContext,
    new_name: Callable[[], str] | None = None,
) -> SegmentResult:
    """Scan the task's segment to its end, writing every item once; see the module doc."""
    client = context.dynamo_client(task.dynamo)

    def on_part(part: Part, last: Item) -> None:
        resume_key = {name: last[name] for name in task.key_names}
        context.emit(PartWritten(task.segment, part, resume_key))

    sink = PartSink(
        context.store(task.folder_url, task.store),
        format=task.format,
        max_items=task.max_items_per_file,
        on_part=on_part,
        new_name=new_name,
    )
    bucket = context.bucket
    bytes_per_rcu = _BYTES_PER_RCU if task.consistent_read else 2 * _BYTES_PER_RCU
    rcu_per_item = max(task.average_item_bytes, 1.0) / bytes_per_rcu
    start_key = task.start_key
    items = written = pages = 0
    consumed = 0.0
    what = f"Scan of table {task.table!r} segment {task.segment}"
    try:
        with context.gc_paused():  # millions of short-lived dicts: the collector only costs
            while True:
                context.check()
                taken = bucket.take(min(MAX_RCU_PER_PAGE, bucket.burst))
                limit = None if taken >= MAX_RCU_PER_PAGE else max(1, int(taken / rcu_per_item))
                page: ScanPage = call_with_retries(
                    _scan(client, task, start_key, limit),
                    task.retry,
                    what=what,
                    sleep=context.sleep,
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
    parts = (*task.earlier_parts, *sink.parts)
    return SegmentResult(task.segment, items, written, consumed, pages, parts)


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
