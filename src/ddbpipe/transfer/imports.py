"""Import a backup into a table: every item put, or a loud failure.

Items with the same key are replaced whole, items not in the backup are left alone,
nothing is deleted, except by an incremental export, whose deletes are applied. A full
native export followed by its incremental exports is applied in order, each export
finished before the next starts. The table must exist (or be created from the backup's
``_table.json`` with ``create_table``) and have the backup's key schema, which is
checked before anything is written.

With a state folder, progress is checkpointed there (per data file: the line every
earlier line is written up to), so that a stopped import resumes where it stopped. With
``on_error="skip"``, bad lines — and items DynamoDB refuses — go to the rejects file,
each line once, however often the import is resumed.

With ``dask`` set, the data files are written on that Dask cluster instead of this
machine's processes (``ddbpipe.transfer.dask_executor``); checkpoints, the rejects file
and progress stay on this side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import orjson

from ddbpipe.backups.chain import BackupChain, open_chain
from ddbpipe.backups.layout import TABLE_SIDECAR_NAME
from ddbpipe.backups.opener import Backup, PlainFiles, require_complete
from ddbpipe.backups.reader import BackupFile, RecordFormat
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.table import TableInfo, create_table_like, describe_table, table_info
from ddbpipe.errors import (
    ConfigError,
    DataError,
    KeySchemaMismatchError,
    ResumePoint,
    TableNotFoundError,
)
from ddbpipe.formats.detect import FORMAT_CSV
from ddbpipe.items import KeySchema, check_key
from ddbpipe.retry import DEFAULT_RETRY_POLICY, RetryPolicy, call_with_retries
from ddbpipe.sessions import AnySession
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.cancel import StopFlag
from ddbpipe.transfer.checkpoints import ImportCheckpoint, import_checkpoint_path
from ddbpipe.transfer.executor import Pool, open_pool
from ddbpipe.transfer.import_task import (
    FileProgress,
    FileResult,
    FileTask,
    LineRejected,
    OnError,
    run_file,
)
from ddbpipe.transfer.options import bind_session, dask_problems, pacing_problems
from ddbpipe.transfer.progress import JobRun, ProgressCallback

__all__ = [
    "DEFAULT_ON_DEMAND_WCU",
    "DEFAULT_WRITE_RATIO",
    "ImportConfig",
    "ImportResult",
    "import_table",
]

DEFAULT_WRITE_RATIO = 0.25
# For on-demand tables without MaxWriteRequestUnits: a new on-demand table takes about
# 4,000 WCU at once; 3,500 leaves room for the table's own traffic.
DEFAULT_ON_DEMAND_WCU = 3_500.0
_SCHEMA_SAMPLE = 10
_MIN_BURST = 25.0


@dataclass(frozen=True)
class ImportConfig:
    """How to import: capacity share, parallelism, bad-input policy, where things live.

    ``state_dir`` is where the checkpoint of the import is kept (none without it);
    ``resume`` goes on from the checkpoint of an earlier run of the same import. ``dask``
    is the address of a Dask scheduler whose workers write the data files; ``workers``
    then counts the files written at once (default: the cluster's threads).
    """

    write_ratio: float | None = None
    workers: int | None = None
    max_wcu: float | None = None
    create_table: bool = False
    on_error: OnError = "fail"
    rejects_path: str | None = None
    dry_run: bool = False
    state_dir: str | None = None
    resume: bool = False
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    dynamo: DynamoConfig = field(default_factory=DynamoConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    plain: PlainFiles = field(default_factory=PlainFiles)
    dask: str | None = None

    def check(self) -> None:
        """Raise ``ConfigError`` listing every invalid setting, before anything is
        written: including a rejects file or state folder that cannot be written."""
        problems = pacing_problems(
            "write", self.write_ratio, self.workers, self.max_wcu, dask=self.dask
        )
        problems += dask_problems(self.dask, self.dynamo.credentials, self.store.credentials)
        problems += self.plain.problems() + self.dynamo.problems()
        if self.store.region != self.dynamo.region:  # else the same region, said once
            problems += self.store.problems()
        if self.on_error not in ("fail", "skip"):
            problems.append(f"on-error must be fail or skip, got {self.on_error!r}")
        if self.rejects_path:
            if self.on_error != "skip":
                problems.append("a rejects file needs on-error skip")
            problems += _writable_file_problems("rejects file", Path(self.rejects_path))
        if self.resume and not self.state_dir:
            problems.append("resuming needs the state folder that holds the checkpoint")
        if self.state_dir and not self.dry_run:
            problems += _writable_folder_problems(Path(self.state_dir))
        if problems:
            raise ConfigError(problems)


def _writable_file_problems(what: str, path: Path) -> list[str]:
    folder = path.parent
    if path.is_dir():
        return [f"{what} {path} is a folder"]
    if not folder.is_dir():
        return [f"the folder of the {what} {path} does not exist"]
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return [f"{what} {path} cannot be written"]
    return []


def _writable_folder_problems(state: Path) -> list[str]:
    folder = state
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists is where it would be made
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return [f"the state folder {state} cannot be written (checkpoints are kept there)"]
    return []


@dataclass(frozen=True)
class ImportResult:
    """A finished import."""

    table: str
    source: str
    files: int
    items_read: int
    written: int
    skipped: int
    duplicates: int
    blank_lines: int
    consumed_capacity: float
    duration: float
    workers: int
    write_rate: float
    dry_run: bool
    deleted: int = 0
    exports: int = 1
    left_out: tuple[str, ...] = ()


def write_capacity(info: TableInfo, config: ImportConfig) -> float:
    """The WCU per second the import may use: the write ratio of the table's capacity."""
    capacity = config.max_wcu or info.capacity("Write", DEFAULT_ON_DEMAND_WCU)
    return max((config.write_ratio or DEFAULT_WRITE_RATIO) * capacity, 1.0)


def _target_table(
    client: DynamoClient, table: str, sidecar: dict[str, Any] | None, config: ImportConfig
) -> TableInfo:
    try:
        return call_with_retries(
            lambda: describe_table(client, table), config.retry, what=f"DescribeTable of {table!r}"
        )
    except TableNotFoundError:
        if not config.create_table:
            raise
    if sidecar is None:
        raise ConfigError(
            f"cannot create table {table!r}: the backup has no {TABLE_SIDECAR_NAME} "
            "describing its keys; create the table first"
        )
    if config.dry_run:
        return table_info({**sidecar, "TableName": table})
    return create_table_like(client, table, sidecar)


def _check_schema(
    info: TableInfo, sidecar: dict[str, Any] | None, backup: Backup, format: RecordFormat
) -> None:
    """Raise ``KeySchemaMismatchError`` before any write when the keys differ.

    With the backup's table description, the key schemas are compared. Without one (a
    Data Pipeline backup, plain files), the first items are read: when none of them has
    the table's key, the backup is another table's. A single bad item is left to the
    tasks.
    """
    if sidecar is not None:
        theirs = table_info({**sidecar, "TableName": sidecar.get("TableName", "?")}).key_schema
        if theirs != info.key_schema:
            raise KeySchemaMismatchError(
                f"table {info.name!r} has key {info.key_schema.describe()}, but the backup at "
                f"{backup.url} was exported from a table with key {theirs.describe()}"
            )
        return
    first: DataError | None = None
    for file in backup.files:
        reader = backup.reader(file, format=format)
        for number, record in reader:
            try:
                if format.changes:
                    check_key(reader.change(record, number).keys, info.key_schema)
                else:
                    check_key(reader.item(record, number), info.key_schema)
            except DataError as exc:
                if "key attribute" not in exc.reason:
                    return  # a malformed record: the tasks report it, with its treatment
                first = first or exc.located(file.url, number)
                if number < _SCHEMA_SAMPLE:
                    continue
            else:
                return
            break
        break
    if first is not None:
        raise KeySchemaMismatchError(
            f"{first}; table {info.name!r} has key {info.key_schema.describe()}, and none of "
            "the backup's first items has it: is this the backup of another table?"
        )


def _record_format(backup: Backup, info: TableInfo) -> RecordFormat:
    """How to read the backup's files; CSV columns are typed by the table's definitions."""
    if backup.format != FORMAT_CSV:
        return backup.record_format()
    typed = tuple(
        (d["AttributeName"], d["AttributeType"])
        for d in info.description.get("AttributeDefinitions", [])
    )
    return backup.record_format(typed, tuple(a.name for a in info.key_schema.attributes))


class _Rejects:
    """The rejects file: one JSON line per skipped line, never the same line twice."""

    def __init__(self, path: str, resume: bool) -> None:
        self.path = Path(path)
        self.seen: set[tuple[str, int]] = set()
        if resume and self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    record = orjson.loads(line)
                    self.seen.add((record["file"], int(record["line"])))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut short by a crash: it will be written again
        self.file: IO[bytes] = self.path.open("ab")

    def write(self, event: LineRejected) -> None:
        where = (event.url, event.line)
        if where in self.seen:
            return
        self.seen.add(where)
        record = {"file": event.url, "line": event.line, "reason": event.reason, "text": event.text}
        self.file.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class _ImportRun(JobRun):
    """The parent's view of one import while its tasks run."""

    def __init__(
        self,
        table: str,
        checkpoint: ImportCheckpoint | None,
        rejects: _Rejects | None,
        expected_bytes: int,
        on_progress: ProgressCallback | None,
    ) -> None:
        super().__init__(
            "import",
            table,
            on_progress=on_progress,
            save_checkpoint=self._save if checkpoint is not None else None,
            expected_bytes=expected_bytes,
        )
        self.checkpoint = checkpoint
        self.rejects = rejects
        self.results: list[FileResult] = []
        if checkpoint is not None:
            self.done = self.items = checkpoint.written

    def _save(self) -> None:
        if self.rejects is not None:
            self.rejects.flush()  # a line the checkpoint has passed is in the file first
        assert self.checkpoint is not None
        self.checkpoint.save()

    def on_event(self, event: object) -> None:
        if isinstance(event, FileProgress):
            self.items += event.items
            self.done += event.items
            self.consumed += event.consumed
            self.bytes += event.bytes
            if self.checkpoint is not None:
                state = self.checkpoint.file(event.url)
                state.written += event.items
                if not state.done:
                    state.line = max(state.line, event.line)
                self.save()
        elif isinstance(event, LineRejected):
            self.skipped += 1
            if self.rejects is not None:
                self.rejects.write(event)
        self.report()

    def on_result(self, result: FileResult) -> None:
        self.results.append(result)
        if self.checkpoint is not None:
            self.checkpoint.file(result.url).done = True
            self.save()


def import_table(
    source: str,
    table: str,
    config: ImportConfig | None = None,
    *,
    session: AnySession | None = None,
    cancel: StopFlag | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportResult:
    """Put every item of the backup at ``source`` into ``table``; see the module doc.

    ``session`` (boto3 or botocore) gives the credentials and default region of both
    DynamoDB and S3; ``cancel`` stops the import, which then raises ``PausedError``.
    """
    config = bind_session(config or ImportConfig(), session)
    config.check()
    _check_rejects_outside(config, source)
    chain = open_chain(source, config.store, session=session, plain=config.plain)
    for backup in chain.backups:
        require_complete(backup)
    client = DynamoClient.from_config(config.dynamo, session)
    first = chain.backups[0]
    sidecar = first.table_description()
    info = _target_table(client, table, sidecar, config)
    _check_schema(info, sidecar, first, _record_format(first, info))
    checkpoint = _open_checkpoint(config, chain.url, table)
    rate = write_capacity(info, config)
    rejects = _Rejects(config.rejects_path, config.resume) if config.rejects_path else None
    run = _ImportRun(table, checkpoint, rejects, chain.size, on_progress)
    workers = 1
    resume = ResumePoint("import", chain.url, table) if checkpoint is not None else None

    def stopped(done: int) -> str:
        return f"import of {chain.url} into {table!r} stopped after {done:,} items were written"

    try:
        with run.stopping(resume, stopped), open_pool(config.dask) as pool:
            if config.dask is not None:  # workers may be set up for another region
                config = _with_region(config, client.region)
            for backup in chain.backups:
                used = _import_backup(pool, backup, info, config, rate, run, cancel)
                workers = max(workers, used)
    finally:
        if rejects is not None:
            rejects.close()
    if checkpoint is not None:
        checkpoint.discard()
    return _result(run, chain, table, config, workers, rate)


def _check_rejects_outside(config: ImportConfig, source: str) -> None:
    """A rejects file inside a local source folder would be read back as data."""
    if not config.rejects_path or "://" in source:
        return
    rejects = Path(config.rejects_path).resolve()
    root = Path(source).resolve()
    if rejects == root or (root.is_dir() and root in rejects.parents):
        raise ConfigError(f"rejects file {rejects} lies inside the source {root}; put it elsewhere")


def _with_region(config: ImportConfig, region: str) -> ImportConfig:
    """``config`` naming the region this side resolved, for DynamoDB and (when unset) S3."""
    return replace(
        config,
        dynamo=replace(config.dynamo, region=region),
        store=replace(config.store, region=config.store.region or region),
    )


def _import_backup(
    pool: Pool,
    backup: Backup,
    info: TableInfo,
    config: ImportConfig,
    rate: float,
    run: _ImportRun,
    cancel: StopFlag | None,
) -> int:
    """Write every file of one backup not done yet; return the workers used."""
    format = _record_format(backup, info)
    checkpoint = run.checkpoint
    files = [f for f in backup.files if checkpoint is None or not checkpoint.file(f.url).done]
    workers = min(config.workers or pool.default_workers, max(len(files), 1))
    tasks = [
        _task(f, info.name, info.key_schema, backup, format, checkpoint, config) for f in files
    ]
    executor = pool.executor(workers, rate, burst=max(rate, _MIN_BURST))
    executor.run(run_file, tasks, run.on_event, run.on_result, cancel=cancel)
    return workers


def _open_checkpoint(config: ImportConfig, source: str, table: str) -> ImportCheckpoint | None:
    if config.state_dir is None or config.dry_run:
        return None
    path = import_checkpoint_path(config.state_dir, source, table)
    if config.resume:
        return ImportCheckpoint.load(path, source, table)
    checkpoint = ImportCheckpoint(path, source, table)
    checkpoint.save()  # before the first write: a job killed at any moment can be resumed
    return checkpoint


def _task(
    file: BackupFile,
    table: str,
    schema: KeySchema,
    backup: Backup,
    format: RecordFormat,
    checkpoint: ImportCheckpoint | None,
    config: ImportConfig,
) -> FileTask:
    start = checkpoint.file(file.url).line if checkpoint is not None else 0
    return FileTask(
        table=table,
        file=file,
        format=format,
        start_line=start,
        schema=schema,
        folder_url=backup.url,
        store=config.store,
        dynamo=config.dynamo,
        on_error=config.on_error,
        dry_run=config.dry_run,
        retry=config.retry,
    )


def _result(
    run: _ImportRun,
    chain: BackupChain,
    table: str,
    config: ImportConfig,
    workers: int,
    rate: float,
) -> ImportResult:
    results = run.results
    return ImportResult(
        table=table,
        source=chain.url,
        files=len(results),
        items_read=sum(r.items_read for r in results),
        written=sum(r.written for r in results),
        skipped=sum(r.skipped for r in results),
        duplicates=sum(r.duplicates for r in results),
        blank_lines=sum(r.blank_lines for r in results),
        consumed_capacity=sum(r.consumed for r in results),
        duration=run.elapsed,
        workers=workers,
        write_rate=rate,
        dry_run=config.dry_run,
        deleted=sum(r.deleted for r in results),
        exports=len(chain.backups),
        left_out=chain.left_out,
    )
