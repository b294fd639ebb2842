"""Export tables to backup folders: plan, run segment tasks, finish the folder.

A Data Pipeline folder gets UUID-named data files of at most 100,000 items, a v3
``manifest`` with absolute URLs, ``_table.json`` (the table's definition and the export's
counts) and ``_SUCCESS``, written last; a native export DynamoDB's own layout. Until
then ``_checkpoint.json`` records progress, so that an interrupted export can be resumed
with every item written exactly once, in the shape the first run would have written.

Every table of a multi-table export is described before the first byte is read: a
missing one fails the job with nothing written.

With ``dask`` set, the segments are scanned on that Dask cluster instead of this
machine's processes (``ddbpipe.transfer.dask_executor``), with the same folder, files
and checkpoint; before the folder is finished, data files of lost task attempts are
removed and their unfinished uploads aborted.
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
    RUN_FORMAT,
)
from ddbpipe.backups.output import (
    FolderIdentity,
    finish_folder,
    start_folder,
    sweep_folder,
    table_arn_of,
)
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.table import TableInfo, describe_table
from ddbpipe.errors import (
    AlreadyExistsError,
    ConfigError,
    DdbpipeError,
    NotABackupError,
    ResumePoint,
    TableOutcome,
)
from ddbpipe.formats.datapipeline import SUCCESS_NAME
from ddbpipe.formats.ddbjson import MANIFEST_SUMMARY_NAME
from ddbpipe.formats.detect import EXPORT_FORMATS, FORMAT_DATAPIPELINE
from ddbpipe.retry import DEFAULT_RETRY_POLICY, RetryPolicy, call_with_retries
from ddbpipe.sessions import AnySession
from ddbpipe.stores import LocalStore, Store, StoreConfig, open_store
from ddbpipe.transfer.cancel import StopFlag, sleep_unless_stopped
from ddbpipe.transfer.checkpoints import ExportCheckpoint, SegmentState
from ddbpipe.transfer.executor import Pool, open_pool
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
    dask_problems,
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
    100,000) — or, when resuming, what the interrupted export used. ``dask`` is the
    address of a Dask scheduler (``tcp://host:8786``) whose workers run the segments;
    ``workers`` then counts the segments scanned at once (default: the cluster's threads).
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
    dask: str | None = None

    def check(self) -> None:
        """Raise ``ConfigError`` listing every invalid setting."""
        problems = pacing_problems(
            "read", self.read_ratio, self.workers, self.max_rcu, dask=self.dask
        )
        problems += dask_problems(self.dask, self.dynamo.credentials, self.store.credentials)
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


def plan_parallelism(
    info: TableInfo, config: ExportConfig, available: int | None = None
) -> tuple[int, int]:
    """``(segments, workers)``: at least a segment per worker, and one per GiB of table;
    ``available`` workers unless the config says (default: one per core)."""
    workers = config.workers or available or default_workers()
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
    with open_pool(config.dask) as pool:
        job = _Job(client, pool, config, cancel, on_progress)
        return _start(job, info, base, run_name, exact)


@dataclass(frozen=True)
class _Job:
    """What every table of one export call shares."""

    client: DynamoClient
    pool: Pool
    config: ExportConfig
    cancel: StopFlag | None
    on_progress: ProgressCallback | None


def _start(
    job: _Job, info: TableInfo, base: Store, run_name: str | None, exact: bool
) -> ExportResult:
    config = job.config
    started = datetime.now(UTC)
    store = start_folder(base, started, config.format, run_name, exact=exact)
    segments, _ = plan_parallelism(info, config, job.pool.default_workers)
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
    return _run_export(job, info, store, checkpoint)


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
    with open_pool(config.dask) as pool:
        job = _Job(client, pool, config, cancel, on_progress)
        if len(tables) == 1:
            return [_start(job, infos[0], base, None, False)]
        return _export_each(job, infos, base)


def _export_each(job: _Job, infos: list[TableInfo], base: Store) -> list[ExportResult]:
    run = datetime.now(UTC).strftime(RUN_FORMAT)
    results: list[ExportResult] = []
    outcomes: list[TableOutcome] = []
    for index, info in enumerate(infos):
        try:
            result = _start(job, info, base.child(info.name), run, False)
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
    # Left by a killed run: temporary files, open uploads, data files written after the
    # last checkpoint (their items are read again).
    sweep_folder(store, checkpoint.format, {p.key for p in checkpoint.parts})
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
    with open_pool(config.dask) as pool:
        return _run_export(_Job(client, pool, config, cancel, on_progress), info, store, checkpoint)


def _task_configs(job: _Job) -> tuple[DynamoConfig, StoreConfig]:
    """The configs tasks carry: on a cluster, the region this side resolved is named, as
    workers may be set up for another."""
    config = job.config
    if config.dask is None:
        return config.dynamo, config.store
    region = job.client.region
    return (
        replace(config.dynamo, region=region),
        replace(config.store, region=config.store.region or region),
    )


def _run_export(
    job: _Job, info: TableInfo, store: Store, checkpoint: ExportCheckpoint
) -> ExportResult:
    config = job.config
    rate = read_capacity(info, config)
    _, workers = plan_parallelism(
        info, replace(config, segments=checkpoint.total_segments), job.pool.default_workers
    )
    run = _ExportRun(store, checkpoint, info.item_count or None, job.on_progress)
    key_names = tuple(a.name for a in info.key_schema.attributes)
    dynamo, store_config = _task_configs(job)
    tasks = [
        SegmentTask(
            table=checkpoint.table,
            segment=segment,
            total_segments=checkpoint.total_segments,
            start_key=state.resume_key,
            key_names=key_names,
            consistent_read=checkpoint.consistent_read,
            dynamo=dynamo,
            folder_url=store.url,
            store=store_config,
            max_items_per_file=checkpoint.items_per_file,
            average_item_bytes=_average_item_bytes(info),
            retry=config.retry,
            format=checkpoint.format,
        )
        for segment, state in sorted(checkpoint.segments.items())
        if not state.done
    ]
    executor = job.pool.executor(workers, rate, burst=max(rate, 1.0))
    resume = ResumePoint("export", store.url, checkpoint.table)

    def stopped(done: int) -> str:
        return (
            f"export of {checkpoint.table!r} stopped; {done:,} items are in finished data "
            f"files in {store.url}"
        )

    with run.stopping(resume, stopped):
        executor.run(run_segment, tasks, run.on_event, run.on_result, cancel=job.cancel)
        if config.dask is not None:
            sweep_folder(store, checkpoint.format, {p.key for p in checkpoint.parts})
    return _finish(job.client, info, store, checkpoint, config, run, rate, workers)


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
