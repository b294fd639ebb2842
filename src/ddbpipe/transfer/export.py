"""Export tables to backup folders: plan, run segment tasks, finish the folder.

A Data Pipeline folder gets UUID-named data files of at most 100,000 items, a v3
``manifest`` with absolute URLs, ``_table.json`` (the table's definition and the export's
counts) and ``_SUCCESS``, written last; a native export DynamoDB's own layout. Until
then ``_checkpoint.json`` records progress, so that an interrupted export can be resumed
with every item written exactly once, in the shape the first run would have written.

Every table of a multi-table export is described before the first byte is read: a
missing one fails the job with nothing written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ddbpipe._version import __version__
from ddbpipe.backups.layout import (
    CHECKPOINT_NAME,
    NATIVE_DATA_FOLDER,
    RUN_FORMAT,
    is_native_data_key,
)
from ddbpipe.backups.output import FolderIdentity, finish_folder, start_folder, table_arn_of
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.table import TableInfo, describe_table
from ddbpipe.errors import (
    AlreadyExistsError,
    CancelledError,
    ConfigError,
    DdbpipeError,
    NotABackupError,
    NotFoundError,
    PausedError,
    ResumePoint,
    TableOutcome,
)
from ddbpipe.formats.datapipeline import SUCCESS_NAME, is_data_file_name
from ddbpipe.formats.ddbjson import MANIFEST_SUMMARY_NAME
from ddbpipe.formats.detect import EXPORT_FORMATS, FORMAT_DATAPIPELINE, NATIVE_FORMATS
from ddbpipe.retry import DEFAULT_RETRY_POLICY, RetryPolicy, call_with_retries
from ddbpipe.sessions import AnySession
from ddbpipe.stores import LocalStore, Store, StoreConfig, open_store
from ddbpipe.transfer.cancel import StopFlag, sleep_unless_stopped
from ddbpipe.transfer.checkpoints import ExportCheckpoint, SegmentState
from ddbpipe.transfer.executor import make_executor
from ddbpipe.transfer.export_task import (
    PageRead,
    PartWritten,
    SegmentResult,
    SegmentTask,
    run_segment,
)
from ddbpipe.transfer.options import (
    bind_session,
    count_problems,
    default_workers,
    pacing_problems,
)
from ddbpipe.transfer.progress import JobRun, ProgressCallback

__all__ = [
    "DEFAULT_AVERAGE_ITEM_BYTES",
    "DEFAULT_ON_DEMAND_RCU",
    "DEFAULT_READ_RATIO",
    "MAX_ITEMS_PER_FILE",
    "MAX_SEGMENTS",
    "ExportConfig",
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


@dataclass(frozen=True)
class ExportConfig:
    """How to export: capacity share, parallelism, consistency, shape, where things live.

    ``read_ratio`` and ``max_items_per_file`` left unset take their defaults (0.25 and
    100,000) — or, when resuming, what the interrupted export used.
    """

    read_ratio: float | None = None
    segments: int | None = None
    workers: int | None = None
    consistent_read: bool = False
    max_rcu: float | None = None
    max_items_per_file: int | None = None
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    dynamo: DynamoConfig = field(default_factory=DynamoConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    format: str = FORMAT_DATAPIPELINE

    def check(self) -> None:
        """Raise ``ConfigError`` listing every invalid setting."""
        problems = pacing_problems("read", self.read_ratio, self.workers, self.max_rcu)
        problems += count_problems("segments", self.segments, 1, MAX_SEGMENTS)
        problems += count_problems("items per file", self.max_items_per_file, 1, MAX_ITEMS_PER_FILE)
        if self.format not in EXPORT_FORMATS:
            problems.append(
                f"format must be one of {', '.join(EXPORT_FORMATS)}, got {self.format!r}"
            )
        problems += self.dynamo.problems()
        if self.store.region != self.dynamo.region:  # else the same region, said once
            problems += self.store.problems()
        if problems:
            raise ConfigError(problems)


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


def read_capacity(info: TableInfo, config: ExportConfig) -> float:
    """The RCU per second the export may use: the read ratio of the table's capacity."""
    capacity = config.max_rcu or info.capacity("Read", DEFAULT_ON_DEMAND_RCU)
    return max((config.read_ratio or DEFAULT_READ_RATIO) * capacity, 0.5)


def plan_parallelism(info: TableInfo, config: ExportConfig) -> tuple[int, int]:
    """``(segments, workers)``: at least a segment per worker, and one per GiB of table."""
    workers = config.workers or default_workers()
    segments = config.segments or max(workers, math.ceil(info.size_bytes / SEGMENT_BYTES))
    segments = min(max(segments, 1), MAX_SEGMENTS)
    return segments, min(workers, segments)


def _average_item_bytes(info: TableInfo) -> float:
    if info.item_count and info.size_bytes:
        return info.size_bytes / info.item_count
    return DEFAULT_AVERAGE_ITEM_BYTES


class _ExportRun(JobRun):
    """The parent's view of one export while its tasks run."""

    def __init__(
        self,
        store: Store,
        checkpoint: ExportCheckpoint,
        expected_items: int | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        super().__init__(
            "export",
            checkpoint.table,
            on_progress=on_progress,
            save_checkpoint=lambda: checkpoint.save(store),
            expected_items=expected_items,
        )
        self.store = store
        self.checkpoint = checkpoint
        self.done = checkpoint.done
        self.items = self.done
        self.bytes = sum(p.bytes for p in checkpoint.parts)
        self.base_parts = {n: list(s.parts) for n, s in checkpoint.segments.items()}

    def on_event(self, event: object) -> None:
        if isinstance(event, PageRead):
            self.items += event.items
            self.bytes += event.bytes
            self.consumed += event.consumed
            self.report()
        elif isinstance(event, PartWritten):
            state = self.checkpoint.segments[event.segment]
            if not state.done:
                state.parts.append(event.part)
                state.resume_key = event.resume_key
                self.done += event.part.items
                self.save()

    def on_result(self, result: SegmentResult) -> None:
        state = self.checkpoint.segments[result.segment]
        before = sum(p.items for p in state.parts)
        state.parts = self.base_parts.get(result.segment, []) + list(result.parts)
        state.done = True
        state.resume_key = None
        self.done += sum(p.items for p in state.parts) - before
        self.save()


def _main_sleep(cancel: StopFlag | None) -> Callable[[float], None]:
    if cancel is None:
        return time.sleep
    return lambda seconds: sleep_unless_stopped(seconds, cancel)


def _describe(
    client: DynamoClient, table: str, config: ExportConfig, cancel: StopFlag | None
) -> TableInfo:
    return call_with_retries(
        lambda: describe_table(client, table),
        config.retry,
        what=f"DescribeTable of {table!r}",
        sleep=_main_sleep(cancel),
    )


def _output_store(destination: str, config: ExportConfig, session: AnySession | None) -> Store:
    store = open_store(destination, config.store, session=session)
    if isinstance(store, LocalStore) and Path(store.url).is_file():
        raise ConfigError(f"{store.url} is a file; the destination must be a folder")
    return store


def export_table(
    table: str,
    destination: str,
    config: ExportConfig | None = None,
    *,
    session: AnySession | None = None,
    cancel: StopFlag | None = None,
    on_progress: ProgressCallback | None = None,
    run_name: str | None = None,
    exact: bool = False,
) -> ExportResult:
    """Export ``table`` into ``destination/<YYYY-MM-dd-HH-mm-ss>/`` and return what was done.

    ``destination`` is ``s3://bucket/prefix`` or a local folder; with ``exact`` the files
    go into ``destination`` itself (it must not exist yet, or be empty). ``session`` (boto3
    or botocore) gives the credentials and default region of both DynamoDB and S3;
    ``cancel`` stops the export, which then raises ``PausedError``. Raises
    ``AlreadyExistsError`` rather than touch an existing folder.
    """
    config = bind_session(config or ExportConfig(), session)
    config.check()
    client = DynamoClient.from_config(config.dynamo, session)
    info = _describe(client, table, config, cancel)
    base = _output_store(destination, config, session)
    return _start(client, info, base, config, cancel, on_progress, run_name, exact)


def _start(
    client: DynamoClient,
    info: TableInfo,
    base: Store,
    config: ExportConfig,
    cancel: StopFlag | None,
    on_progress: ProgressCallback | None,
    run_name: str | None,
    exact: bool,
) -> ExportResult:
    started = datetime.now(UTC)
    store = start_folder(base, started, config.format, run_name, exact=exact)
    segments, _ = plan_parallelism(info, config)
    checkpoint = ExportCheckpoint(
        table=info.name,
        total_segments=segments,
        consistent_read=config.consistent_read,
        started=started.isoformat(timespec="milliseconds"),
        segments={n: SegmentState() for n in range(segments)},
        format=config.format,
        items_per_file=config.max_items_per_file or MAX_ITEMS_PER_FILE,
        read_ratio=config.read_ratio,
        max_rcu=config.max_rcu,
    )
    checkpoint.save(store)
    return _run_export(client, info, store, checkpoint, config, cancel, on_progress)


def export_tables(
    tables: Sequence[str],
    destination: str,
    config: ExportConfig | None = None,
    *,
    session: AnySession | None = None,
    cancel: StopFlag | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[ExportResult]:
    """Export each table; with several, each goes to ``destination/<table>/<run>/``.

    Every table is described first: a missing one fails the job before anything is
    written. When a table fails, the error's ``tables`` says which finished (and where),
    which failed, and which were not started.
    """
    if not tables:
        raise ConfigError("no table to export")
    if len(set(tables)) != len(tables):
        raise ConfigError("a table is named twice")
    config = bind_session(config or ExportConfig(), session)
    config.check()
    client = DynamoClient.from_config(config.dynamo, session)
    infos = [_describe(client, table, config, cancel) for table in tables]
    base = _output_store(destination, config, session)
    if len(tables) == 1:
        return [_start(client, infos[0], base, config, cancel, on_progress, None, False)]
    run = datetime.now(UTC).strftime(RUN_FORMAT)
    results: list[ExportResult] = []
    outcomes: list[TableOutcome] = []
    for index, info in enumerate(infos):
        try:
            result = _start(
                client, info, base.child(info.name), config, cancel, on_progress, run, False
            )
        except DdbpipeError as exc:
            exc.tables = (
                *outcomes,
                TableOutcome(info.name, "failed", reason=str(exc)),
                *(TableOutcome(i.name, "not started") for i in infos[index + 1 :]),
            )
            raise
        results.append(result)
        outcomes.append(TableOutcome(info.name, "finished", folder=result.folder))
    return results


def resume_export(
    folder: str,
    config: ExportConfig | None = None,
    *,
    session: AnySession | None = None,
    cancel: StopFlag | None = None,
    on_progress: ProgressCallback | None = None,
) -> ExportResult:
    """Finish the interrupted export in ``folder`` (the run folder that holds its
    checkpoint), in the shape it started with: format, items per file, segments and
    consistency come from the checkpoint, and so do the ratio and capacity override
    unless ``config`` sets them."""
    config = bind_session(config or ExportConfig(), session)
    config.check()
    store = open_store(folder, config.store, session=session)
    if store.exists(SUCCESS_NAME) or store.exists(MANIFEST_SUMMARY_NAME):
        raise AlreadyExistsError(f"{store.url} is a finished export")
    if not store.exists(CHECKPOINT_NAME):
        raise NotABackupError(
            f"{store.url} has no {CHECKPOINT_NAME}: it is not an interrupted ddbpipe export"
        )
    checkpoint = ExportCheckpoint.load(store)
    store.abort_incomplete_writes()  # left by a killed run: temporary files, open uploads
    _delete_unlisted_parts(store, checkpoint)
    client = DynamoClient.from_config(config.dynamo, session)
    info = _describe(client, checkpoint.table, config, cancel)
    config = replace(
        config,
        consistent_read=checkpoint.consistent_read,
        format=checkpoint.format,
        max_items_per_file=checkpoint.items_per_file,
        read_ratio=config.read_ratio or checkpoint.read_ratio,
        max_rcu=config.max_rcu or checkpoint.max_rcu,
    )
    return _run_export(client, info, store, checkpoint, config, cancel, on_progress)


def _delete_unlisted_parts(store: Store, checkpoint: ExportCheckpoint) -> None:
    """Delete the data files written after the last checkpoint: their items are read
    again."""
    kept = {p.key for p in checkpoint.parts}
    native = checkpoint.format in NATIVE_FORMATS
    folder = NATIVE_DATA_FOLDER if native else ""
    try:
        present = store.list_dir(folder).files
    except NotFoundError:
        present = []
    for info in present:
        if info.key in kept:
            continue
        if is_native_data_key(info.key) if native else is_data_file_name(info.key):
            store.delete(info.key)


def _run_export(
    client: DynamoClient,
    info: TableInfo,
    store: Store,
    checkpoint: ExportCheckpoint,
    config: ExportConfig,
    cancel: StopFlag | None,
    on_progress: ProgressCallback | None,
) -> ExportResult:
    rate = read_capacity(info, config)
    _, workers = plan_parallelism(info, replace(config, segments=checkpoint.total_segments))
    run = _ExportRun(store, checkpoint, info.item_count or None, on_progress)
    key_names = tuple(a.name for a in info.key_schema.attributes)
    tasks = [
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
            max_items_per_file=checkpoint.items_per_file,
            average_item_bytes=_average_item_bytes(info),
            retry=config.retry,
            format=checkpoint.format,
        )
        for segment, state in sorted(checkpoint.segments.items())
        if not state.done
    ]
    executor = make_executor(workers, rate, burst=max(rate, 1.0))
    resume = ResumePoint("export", store.url, checkpoint.table)
    try:
        executor.run(run_segment, tasks, run.on_event, run.on_result, cancel=cancel)
    except (CancelledError, KeyboardInterrupt):
        run.save(force=True)
        raise PausedError(
            f"export of {checkpoint.table!r} stopped; {checkpoint.done:,} items are in finished "
            f"data files in {store.url}",
            resume=replace(resume, done=checkpoint.done),
        ) from None
    except BaseException as exc:
        run.save(force=True)
        if isinstance(exc, DdbpipeError):
            exc.resume = replace(resume, done=checkpoint.done)
        raise
    return _finish(client, info, store, checkpoint, config, run, rate, workers)


def _finish(
    client: DynamoClient,
    info: TableInfo,
    store: Store,
    checkpoint: ExportCheckpoint,
    config: ExportConfig,
    run: _ExportRun,
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
    return ExportResult(
        table=checkpoint.table,
        folder=store.url,
        files=files,
        items=items,
        bytes=sum(p.bytes for p in parts),
        consumed_capacity=run.consumed,
        duration=run.elapsed,
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
