"""Export tables to Data Pipeline backup folders: plan, run segment tasks, finish the folder.

The folder gets UUID-named data files of at most 100,000 items, a v3 ``manifest`` with
absolute URLs, ``_table.json`` (the table's definition and the export's counts) and
``_SUCCESS``, written last. Until then ``_checkpoint.json`` records progress, so an
interrupted export can be resumed with every item written exactly once.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from ddbpipe._version import __version__
from ddbpipe.backups.layout import CHECKPOINT_NAME, NATIVE_DATA_FOLDER, RUN_FORMAT
from ddbpipe.backups.output import FolderIdentity, finish_folder, start_folder, table_arn_of
from ddbpipe.backups.parts import Part
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.table import TableInfo, describe_table
from ddbpipe.errors import (
    AlreadyExistsError,
    ConfigError,
    DdbpipeError,
    NotABackupError,
    NotFoundError,
    PausedError,
)
from ddbpipe.formats.datapipeline import SUCCESS_NAME, is_data_file_name
from ddbpipe.formats.detect import EXPORT_FORMATS, FORMAT_DATAPIPELINE, NATIVE_FORMATS
from ddbpipe.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ddbpipe.stores import Store, StoreConfig, open_store
from ddbpipe.transfer.checkpoints import ExportCheckpoint, SegmentState
from ddbpipe.transfer.executor import make_executor, pacing_problems
from ddbpipe.transfer.export_task import (
    PageRead,
    PartWritten,
    SegmentResult,
    SegmentTask,
    run_segment,
)

__all__ = [
    "DEFAULT_AVERAGE_ITEM_BYTES",
    "DEFAULT_ON_DEMAND_RCU",
    "DEFAULT_READ_RATIO",
    "MAX_ITEMS_PER_FILE",
    "ExportConfig",
    "ExportProgress",
    "ExportResult",
    "export_table",
    "export_tables",
    "resume_export",
]

DEFAULT_READ_RATIO = 0.25
MAX_ITEMS_PER_FILE = 100_000  # as the Data Pipeline exporter rolled its files
# For on-demand tables without MaxReadRequestUnits: a new on-demand table serves about
# 12,000 RCU at once (4 partitions); 10,000 leaves room for the table's own traffic,
# and the read ratio then takes a share of that.
DEFAULT_ON_DEMAND_RCU = 10_000.0
DEFAULT_AVERAGE_ITEM_BYTES = 400.0
SEGMENT_BYTES = 1 << 30
MAX_SEGMENTS = 1_000_000
_CHECKPOINT_INTERVAL = 1.0


@dataclass(frozen=True)
class ExportConfig:
    """How to export: capacity share, parallelism, consistency, where the table lives."""

    read_ratio: float = DEFAULT_READ_RATIO
    segments: int | None = None
    workers: int | None = None
    consistent_read: bool = False
    max_rcu: float | None = None
    max_items_per_file: int = MAX_ITEMS_PER_FILE
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    dynamo: DynamoConfig = field(default_factory=DynamoConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    format: str = FORMAT_DATAPIPELINE

    def check(self) -> None:
        """Raise ``ConfigError`` listing every invalid setting."""
        problems = pacing_problems("read", self.read_ratio, self.workers, self.max_rcu)
        if self.segments is not None and not 1 <= self.segments <= MAX_SEGMENTS:
            problems.append(f"segments must be 1 to {MAX_SEGMENTS:,}, got {self.segments}")
        if not 1 <= self.max_items_per_file <= MAX_ITEMS_PER_FILE:
            problems.append(f"items per file must be 1 to {MAX_ITEMS_PER_FILE:,}")
        if self.format not in EXPORT_FORMATS:
            problems.append(
                f"format must be one of {', '.join(EXPORT_FORMATS)}, got {self.format!r}"
            )
        if problems:
            raise ConfigError(problems)


@dataclass(frozen=True)
class ExportProgress:
    """Where an export is: counts so far, and the table's item count when known."""

    table: str
    items: int
    bytes: int
    consumed: float
    elapsed: float
    expected_items: int | None


@dataclass(frozen=True)
class ExportResult:
    """A finished export."""

    table: str
    folder: str
    files: tuple[str, ...]
    items: int
    bytes: int
    consumed_capacity: float
    duration: float
    segments: int
    workers: int
    read_rate: float


ProgressCallback = Callable[[ExportProgress], None]


def read_capacity(info: TableInfo, config: ExportConfig) -> float:
    """The RCU per second the export may use: the read ratio of the table's capacity."""
    capacity = config.max_rcu or info.capacity("Read", DEFAULT_ON_DEMAND_RCU)
    return max(config.read_ratio * capacity, 0.5)


def plan_parallelism(info: TableInfo, config: ExportConfig) -> tuple[int, int]:
    """``(segments, workers)``: at least a segment per worker, and one per GiB of table."""
    workers = config.workers or min(os.cpu_count() or 1, 8)
    segments = config.segments or max(workers, math.ceil(info.size_bytes / SEGMENT_BYTES))
    segments = min(max(segments, 1), MAX_SEGMENTS)
    return segments, min(workers, segments)


def _average_item_bytes(info: TableInfo) -> float:
    if info.item_count and info.size_bytes:
        return info.size_bytes / info.item_count
    return DEFAULT_AVERAGE_ITEM_BYTES


@dataclass
class _Run:
    """The parent's view of one export while its tasks run."""

    store: Store
    checkpoint: ExportCheckpoint
    started: float
    expected_items: int | None
    on_progress: ProgressCallback | None
    clock: Callable[[], float]
    items: int = 0
    bytes: int = 0
    consumed: float = 0.0
    saved_at: float = 0.0
    base_parts: dict[int, list[Part]] = field(default_factory=dict)

    def on_event(self, event: object) -> None:
        if isinstance(event, PageRead):
            self.items += event.items
            self.bytes += event.bytes
            self.consumed += event.consumed
            if self.on_progress is not None:
                self.on_progress(self.progress())
        elif isinstance(event, PartWritten):
            state = self.checkpoint.segments[event.segment]
            if not state.done:
                state.parts.append(event.part)
                state.resume_key = event.resume_key
                self.save(force=False)

    def on_result(self, result: SegmentResult) -> None:
        state = self.checkpoint.segments[result.segment]
        state.parts = self.base_parts.get(result.segment, []) + list(result.parts)
        state.done = True
        state.resume_key = None
        self.save(force=False)

    def progress(self) -> ExportProgress:
        return ExportProgress(
            self.checkpoint.table,
            self.items,
            self.bytes,
            self.consumed,
            self.clock() - self.started,
            self.expected_items,
        )

    def save(self, force: bool) -> None:
        now = self.clock()
        if force or now - self.saved_at >= _CHECKPOINT_INTERVAL:
            self.checkpoint.save(self.store)
            self.saved_at = now


def export_table(
    table: str,
    destination: str,
    config: ExportConfig | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    run_name: str | None = None,
) -> ExportResult:
    """Export ``table`` into ``destination/<YYYY-MM-dd-HH-mm-ss>/`` and return what was done.

    ``destination`` is ``s3://bucket/prefix`` or a local folder. Raises
    ``AlreadyExistsError`` rather than touch an existing folder.
    """
    config = config or ExportConfig()
    config.check()
    client = DynamoClient.from_config(config.dynamo)
    info = describe_table(client, table)
    started = datetime.now(UTC)
    store = start_folder(open_store(destination, config.store), started, config.format, run_name)
    segments, _ = plan_parallelism(info, config)
    checkpoint = ExportCheckpoint(
        table=table,
        total_segments=segments,
        consistent_read=config.consistent_read,
        started=started.isoformat(timespec="milliseconds"),
        segments={n: SegmentState() for n in range(segments)},
        format=config.format,
    )
    checkpoint.save(store)
    return _run_export(client, info, store, checkpoint, config, on_progress)


def export_tables(
    tables: Sequence[str],
    destination: str,
    config: ExportConfig | None = None,
    *,
    on_progress: ProgressCallback | None = None,
) -> list[ExportResult]:
    """Export each table; with several, each goes to ``destination/<table>/<run>/``."""
    if len(set(tables)) != len(tables):
        raise ConfigError("a table is named twice")
    if len(tables) == 1:
        return [export_table(tables[0], destination, config, on_progress=on_progress)]
    run = datetime.now(UTC).strftime(RUN_FORMAT)
    base = destination.rstrip("/")
    return [
        export_table(t, f"{base}/{t}", config, on_progress=on_progress, run_name=run)
        for t in tables
    ]


def resume_export(
    folder: str, config: ExportConfig | None = None, *, on_progress: ProgressCallback | None = None
) -> ExportResult:
    """Finish the interrupted export in ``folder`` (the run folder that holds its checkpoint)."""
    config = config or ExportConfig()
    config.check()
    store = open_store(folder, config.store)
    if store.exists(SUCCESS_NAME):
        raise AlreadyExistsError(f"{store.url} is a finished export (it has {SUCCESS_NAME})")
    if not store.exists(CHECKPOINT_NAME):
        raise NotABackupError(
            f"{store.url} has no {CHECKPOINT_NAME}: it is not an interrupted ddbpipe export"
        )
    checkpoint = ExportCheckpoint.load(store)
    kept = {p.key for p in checkpoint.parts}
    native = checkpoint.format in NATIVE_FORMATS
    folder = NATIVE_DATA_FOLDER if native else ""
    try:
        present = store.list_dir(folder).files
    except NotFoundError:
        present = []
    for info in present:
        name = info.key.rpartition("/")[2]
        key = f"{folder}/{name}" if folder else name
        if (native or is_data_file_name(name)) and key not in kept:
            store.delete(key)  # written after the last checkpoint: its items are read again
    client = DynamoClient.from_config(config.dynamo)
    table_info = describe_table(client, checkpoint.table)
    config = replace(config, consistent_read=checkpoint.consistent_read, format=checkpoint.format)
    return _run_export(client, table_info, store, checkpoint, config, on_progress)


def _run_export(
    client: DynamoClient,
    info: TableInfo,
    store: Store,
    checkpoint: ExportCheckpoint,
    config: ExportConfig,
    on_progress: ProgressCallback | None,
) -> ExportResult:
    clock = time.monotonic
    started = clock()
    rate = read_capacity(info, config)
    _, workers = plan_parallelism(info, replace(config, segments=checkpoint.total_segments))
    run = _Run(store, checkpoint, started, info.item_count or None, on_progress, clock)
    key_names = tuple(a.name for a in info.key_schema.attributes)
    tasks = []
    for segment, state in sorted(checkpoint.segments.items()):
        run.items += sum(p.items for p in state.parts)
        run.bytes += sum(p.bytes for p in state.parts)
        if state.done:
            continue
        run.base_parts[segment] = list(state.parts)
        tasks.append(
            SegmentTask(
                table=checkpoint.table,
                segment=segment,
                total_segments=checkpoint.total_segments,
                start_key=state.resume_key,
                key_names=key_names,
                consistent_read=checkpoint.consistent_read,
                dynamo=config.dynamo,
                folder_url=store.url,
                store=config.store,
                max_items_per_file=config.max_items_per_file,
                average_item_bytes=_average_item_bytes(info),
                retry=config.retry,
                format=checkpoint.format,
            )
        )
    executor = make_executor(workers, rate, burst=max(rate, 1.0))
    try:
        executor.run(run_segment, tasks, run.on_event, run.on_result)
    except KeyboardInterrupt:
        run.save(force=True)
        raise PausedError(
            f"export of {checkpoint.table!r} interrupted; {run.items:,} items in finished "
            f"data files are kept in {store.url}",
            resume_hint=f"resume with: ddbpipe export --resume {store.url}",
        ) from None
    except DdbpipeError as exc:
        run.save(force=True)
        exc.hint = (
            f"{store.url} is incomplete (no {SUCCESS_NAME}); "
            f"resume with: ddbpipe export --resume {store.url}"
        )
        raise
    except BaseException:
        run.save(force=True)
        raise
    return _finish(client, info, store, checkpoint, config, run, rate, workers)


def _finish(
    client: DynamoClient,
    info: TableInfo,
    store: Store,
    checkpoint: ExportCheckpoint,
    config: ExportConfig,
    run: _Run,
    rate: float,
    workers: int,
) -> ExportResult:
    parts = checkpoint.parts
    ended = datetime.now(UTC)
    items = sum(p.items for p in parts)
    sidecar = _sidecar(
        client, info, checkpoint, items, ended.isoformat(timespec="seconds"), config.consistent_read
    )
    files = finish_folder(
        store,
        parts,
        format=checkpoint.format,
        started=datetime.fromisoformat(checkpoint.started),
        ended=ended,
        identity=FolderIdentity(
            table_arn_of(info.description, client.region), str(info.description.get("TableId", ""))
        ),
        sidecar=sidecar,
    )
    store.delete(CHECKPOINT_NAME)
    return _result(checkpoint, store, files, run, rate, workers)


def _result(
    checkpoint: ExportCheckpoint,
    store: Store,
    files: tuple[str, ...],
    run: _Run,
    rate: float,
    workers: int,
) -> ExportResult:
    parts = checkpoint.parts
    return ExportResult(
        table=checkpoint.table,
        folder=store.url,
        files=files,
        items=sum(p.items for p in parts),
        bytes=sum(p.bytes for p in parts),
        consumed_capacity=run.consumed,
        duration=run.clock() - run.started,
        segments=checkpoint.total_segments,
        workers=workers,
        read_rate=rate,
    )


_SIDECAR_FIELDS = (
    "TableName",
    "TableArn",
    "KeySchema",
    "AttributeDefinitions",
    "BillingModeSummary",
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "SSEDescription",
    "TableClassSummary",
    "DeletionProtectionEnabled",
    "ItemCount",
    "TableSizeBytes",
)


def _sidecar(
    client: DynamoClient,
    info: TableInfo,
    checkpoint: ExportCheckpoint,
    items: int,
    ended: str,
    consistent_read: bool,
) -> bytes:
    """``_table.json``: the table as DescribeTable showed it, and the export's facts."""
    table: dict[str, Any] = {
        k: info.description[k] for k in _SIDECAR_FIELDS if k in info.description
    }
    table["BillingMode"] = info.billing_mode
    try:
        ttl = client.call("DescribeTimeToLive", {"TableName": info.name}, resource=info.name)
        table["TimeToLiveDescription"] = ttl.get("TimeToLiveDescription")
    except DdbpipeError:
        pass  # not readable with these permissions, or not supported by this endpoint
    export = {
        "format": checkpoint.format,
        "items": items,
        "segments": checkpoint.total_segments,
        "consistent_read": consistent_read,
        "started": checkpoint.started,
        "ended": ended,
        "region": client.region,
        "ddbpipe_version": __version__,
    }
    return orjson.dumps({"table": table, "export": export}, option=orjson.OPT_INDENT_2)
