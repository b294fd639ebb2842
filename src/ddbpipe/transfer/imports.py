"""Import a backup into a table: every item put, or a loud failure.

Items with the same key are replaced whole, items not in the backup are left alone,
nothing is deleted, except by an incremental export, whose deletes are applied. A full
native export followed by its incremental exports is applied in order, each export
finished before the next starts. The table must exist (or be created from the backup's
``_table.json`` with ``create_table``) and have the backup's key schema, which is
checked before anything is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    DdbpipeError,
    KeySchemaMismatchError,
    NotFoundError,
    PausedError,
    TableNotFoundError,
)
from ddbpipe.formats.detect import FORMAT_CSV
from ddbpipe.items import KeySchema, check_key
from ddbpipe.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.executor import make_executor, pacing_problems
from ddbpipe.transfer.import_task import (
    FileProgress,
    FileResult,
    FileTask,
    LineRejected,
    OnError,
    run_file,
)

__all__ = [
    "DEFAULT_ON_DEMAND_WCU",
    "DEFAULT_WRITE_RATIO",
    "ImportConfig",
    "ImportProgress",
    "ImportResult",
    "import_table",
]

DEFAULT_WRITE_RATIO = 0.25
# For on-demand tables without MaxWriteRequestUnits: a new on-demand table takes about
# 4,000 WCU at once; 3,500 leaves room for the table's own traffic.
DEFAULT_ON_DEMAND_WCU = 3_500.0
_CHECKPOINT_INTERVAL = 1.0
_SCHEMA_SAMPLE = 10


@dataclass(frozen=True)
class ImportConfig:
    """How to import: capacity share, parallelism, bad-input policy, where things live."""

    write_ratio: float = DEFAULT_WRITE_RATIO
    workers: int | None = None
    max_wcu: float | None = None
    create_table: bool = False
    on_error: OnError = "fail"
    rejects_path: str | None = None
    dry_run: bool = False
    checkpoint_path: str | None = None
    resume: bool = False
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    dynamo: DynamoConfig = field(default_factory=DynamoConfig)
    source: StoreConfig = field(default_factory=StoreConfig)
    plain: PlainFiles = field(default_factory=PlainFiles)

    def check(self) -> None:
        """Raise ``ConfigError`` listing every invalid setting."""
        problems = pacing_problems("write", self.write_ratio, self.workers, self.max_wcu)
        problems.extend(self.plain.problems())
        if self.on_error not in ("fail", "skip"):
            problems.append(f"on-error must be fail or skip, got {self.on_error!r}")
        if self.rejects_path and self.on_error != "skip":
            problems.append("a rejects file needs --on-error skip")
        if self.resume and not self.checkpoint_path:
            problems.append("resuming needs a checkpoint path")
        if problems:
            raise ConfigError(problems)


@dataclass(frozen=True)
class ImportProgress:
    """Where an import is."""

    table: str
    items: int
    skipped: int
    consumed: float
    elapsed: float
    bytes: int
    expected_bytes: int


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


ProgressCallback = Callable[[ImportProgress], None]


def write_capacity(info: TableInfo, config: ImportConfig) -> float:
    """The WCU per second the import may use: the write ratio of the table's capacity."""
    capacity = config.max_wcu or info.capacity("Write", DEFAULT_ON_DEMAND_WCU)
    return max(config.write_ratio * capacity, 1.0)


def _sidecar(backup: Backup) -> dict[str, Any] | None:
    if TABLE_SIDECAR_NAME not in backup.other:
        return None
    source = backup.store.url_for(TABLE_SIDECAR_NAME)
    try:
        table: dict[str, Any] = orjson.loads(backup.store.read_bytes(TABLE_SIDECAR_NAME))["table"]
        table_info({**table, "TableName": table.get("TableName", "?")})
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"table description is damaged ({exc!r})", source=source) from None
    return table


def _target_table(
    client: DynamoClient, table: str, sidecar: dict[str, Any] | None, config: ImportConfig
) -> TableInfo:
    try:
        return describe_table(client, table)
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


@dataclass
class _ImportCheckpoint:
    """Files finished and the line reached in the others, kept in a local JSON file."""

    path: Path
    source: str
    table: str
    files: dict[str, int] = field(default_factory=dict)  # key -> line reached; -1: done

    def save(self) -> None:
        data = orjson.dumps({"source": self.source, "table": self.table, "files": self.files})
        temp = self.path.with_name(f".{self.path.name}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(data)
        os.replace(temp, self.path)

    @classmethod
    def load(cls, path: Path, source: str, table: str) -> _ImportCheckpoint:
        try:
            raw = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise NotFoundError(
                f"no interrupted import of {source} into {table!r} to resume ({path} is missing)"
            ) from None
        except orjson.JSONDecodeError as exc:
            raise DataError(f"import checkpoint is damaged ({exc})", source=str(path)) from None
        if raw.get("source") != source or raw.get("table") != table:
            raise ConfigError(
                f"{path} belongs to the import of {raw.get('source')} into {raw.get('table')!r}"
            )
        return cls(path, source, table, {k: int(v) for k, v in raw["files"].items()})


@dataclass
class _Run:
    table: str
    checkpoint: _ImportCheckpoint | None
    rejects: IO[bytes] | None
    started: float
    expected_bytes: int
    on_progress: ProgressCallback | None
    items: int = 0
    skipped: int = 0
    consumed: float = 0.0
    bytes: int = 0
    saved_at: float = 0.0
    results: list[FileResult] = field(default_factory=list)

    def on_event(self, event: object) -> None:
        if isinstance(event, FileProgress):
            self.items += event.items
            self.consumed += event.consumed
            self.bytes += event.bytes
            if self.checkpoint is not None and self.checkpoint.files.get(event.key) != -1:
                self.checkpoint.files[event.key] = event.line
                self.save(force=False)
        elif isinstance(event, LineRejected):
            self.skipped += 1
            if self.rejects is not None:
                record = {
                    "file": event.url,
                    "line": event.line,
                    "reason": event.reason,
                    "text": event.text,
                }
                self.rejects.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        if self.on_progress is not None:
            self.on_progress(
                ImportProgress(
                    self.table,
                    self.items,
                    self.skipped,
                    self.consumed,
                    time.monotonic() - self.started,
                    self.bytes,
                    self.expected_bytes,
                )
            )

    def on_result(self, result: FileResult) -> None:
        self.results.append(result)
        if self.checkpoint is not None:
            self.checkpoint.files[result.key] = -1
            self.save(force=False)

    def save(self, force: bool) -> None:
        now = time.monotonic()
        if self.checkpoint is not None and (force or now - self.saved_at >= _CHECKPOINT_INTERVAL):
            self.checkpoint.save()
            self.saved_at = now


def import_table(
    source: str,
    table: str,
    config: ImportConfig | None = None,
    *,
    on_progress: ProgressCallback | None = None,
) -> ImportResult:
    """Put every item of the backup at ``source`` into ``table``; see the module doc."""
    config = config or ImportConfig()
    config.check()
    chain = open_chain(source, config.source, plain=config.plain)
    for backup in chain.backups:
        require_complete(backup)
    client = DynamoClient.from_config(config.dynamo)
    first = chain.backups[0]
    sidecar = _sidecar(first)
    info = _target_table(client, table, sidecar, config)
    _check_schema(info, sidecar, first, _record_format(first, info))
    checkpoint = _open_checkpoint(config, chain.url, table)
    rate = write_capacity(info, config)
    rejects = open(config.rejects_path, "ab") if config.rejects_path else None  # noqa: SIM115
    run = _Run(table, checkpoint, rejects, time.monotonic(), chain.size, on_progress)
    workers = 1
    resume = f"resume with: ddbpipe import --resume {chain.url} {table}"
    try:
        for backup in chain.backups:
            workers = max(workers, _import_backup(backup, info, checkpoint, config, rate, run))
    except KeyboardInterrupt:
        run.save(force=True)
        raise PausedError(
            f"import of {chain.url} into {table!r} interrupted after {run.items:,} items",
            resume_hint=resume,
        ) from None
    except DdbpipeError as exc:
        run.save(force=True)
        if checkpoint is not None:
            exc.hint = (
                f"{run.items:,} items were written before this; once the cause is fixed, {resume}"
            )
        raise
    finally:
        if rejects is not None:
            rejects.close()
    if checkpoint is not None and not config.dry_run:
        checkpoint.path.unlink(missing_ok=True)
    return _result(run, chain, table, config, workers, rate)


def _import_backup(
    backup: Backup,
    info: TableInfo,
    checkpoint: _ImportCheckpoint | None,
    config: ImportConfig,
    rate: float,
    run: _Run,
) -> int:
    """Write every file of one backup not done yet; return the workers used."""
    format = _record_format(backup, info)
    files = [f for f in backup.files if checkpoint is None or checkpoint.files.get(f.url) != -1]
    workers = min(config.workers or min(os.cpu_count() or 1, 8), max(len(files), 1))
    tasks = [
        _task(f, run.table, info.key_schema, backup, format, checkpoint, config) for f in files
    ]
    make_executor(workers, rate, burst=max(rate, 25.0)).run(
        run_file, tasks, run.on_event, run.on_result
    )
    return workers


def _open_checkpoint(config: ImportConfig, source: str, table: str) -> _ImportCheckpoint | None:
    if config.checkpoint_path is None or config.dry_run:
        return None
    path = Path(config.checkpoint_path)
    if config.resume:
        return _ImportCheckpoint.load(path, source, table)
    return _ImportCheckpoint(path, source, table)


def _task(
    file: BackupFile,
    table: str,
    schema: KeySchema,
    backup: Backup,
    format: RecordFormat,
    checkpoint: _ImportCheckpoint | None,
    config: ImportConfig,
) -> FileTask:
    start = checkpoint.files.get(file.url, 0) if checkpoint is not None else 0
    return FileTask(
        table=table,
        file=file,
        format=format,
        start_line=max(start, 0),
        schema=schema,
        folder_url=backup.url,
        store=config.source,
        dynamo=config.dynamo,
        on_error=config.on_error,
        dry_run=config.dry_run,
        retry=config.retry,
    )


def _result(
    run: _Run, chain: BackupChain, table: str, config: ImportConfig, workers: int, rate: float
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
        duration=time.monotonic() - run.started,
        workers=workers,
        write_rate=rate,
        dry_run=config.dry_run,
        deleted=sum(r.deleted for r in results),
        exports=len(chain.backups),
        left_out=chain.left_out,
    )
