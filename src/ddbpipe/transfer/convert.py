"""Convert a backup into another format: streamed, counted, without touching a table.

Each data file of the source is a task (``convert_task``), run by the job's executor: on
this machine's processes, or on a Dask cluster (``dask``). The items written are
counted against the items read, file by file and in all.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ddbpipe.backups.layout import DATAPIPELINE_MARKERS, NATIVE_MARKERS, TABLE_SIDECAR_NAME
from ddbpipe.backups.opener import Backup, PlainFiles, open_backup, require_complete
from ddbpipe.backups.output import (
    FolderIdentity,
    finish_folder,
    start_folder,
    sweep_folder,
    table_arn_of,
)
from ddbpipe.backups.parts import Part
from ddbpipe.errors import ConfigError, DdbpipeError, FatalError, NotABackupError
from ddbpipe.formats.detect import EXPORT_FORMATS
from ddbpipe.sessions import AnySession, new_session, session_credentials, session_region
from ddbpipe.stores import LocalStore, Store, StoreConfig, open_store
from ddbpipe.transfer.cancel import StopFlag
from ddbpipe.transfer.convert_task import (
    ConvertedPart,
    ConvertFileResult,
    ConvertTask,
    ItemsConverted,
    convert_file,
)
from ddbpipe.transfer.executor import open_pool
from ddbpipe.transfer.export import MAX_ITEMS_PER_FILE
from ddbpipe.transfer.options import count_problems, dask_problems
from ddbpipe.transfer.progress import JobRun, ProgressCallback

__all__ = ["ConvertResult", "convert_backup"]


@dataclass(frozen=True)
class ConvertResult:
    """A finished conversion."""

    source: str
    folder: str
    format: str
    files: tuple[str, ...]
    items: int
    duration: float


def _table_identity(backup: Backup) -> FolderIdentity:
    """The source table's ARN and id, as far as the backup tells them."""
    if backup.summary is not None:
        return FolderIdentity(backup.summary.table_arn, backup.summary.table_id)
    description: dict[str, object] = {}
    if TABLE_SIDECAR_NAME in backup.other:
        description = orjson.loads(backup.store.read_bytes(TABLE_SIDECAR_NAME))["table"]
    return FolderIdentity(table_arn_of(description, "unknown"), str(description.get("TableId", "")))


def convert_backup(
    source: str,
    destination: str,
    to_format: str,
    *,
    source_store: StoreConfig | None = None,
    store: StoreConfig | None = None,
    max_items_per_file: int = MAX_ITEMS_PER_FILE,
    plain: PlainFiles | None = None,
    session: AnySession | None = None,
    cancel: StopFlag | None = None,
    on_progress: ProgressCallback | None = None,
    dask: str | None = None,
) -> ConvertResult:
    """Write every item of the backup at ``source`` into a new folder under ``destination``
    in ``to_format``; the items written are counted against the items read.

    Each data file is converted by a task of its own, on this machine's processes or on
    the Dask cluster whose scheduler is at ``dask``. A conversion that fails or is
    cancelled removes what it wrote (the error's ``discarded`` names the folder), so a
    new run starts clean.
    """
    store = _bound(store or StoreConfig(), session)
    source_store = _bound(source_store, session) if source_store is not None else store
    _check(to_format, max_items_per_file, plain, store, source_store, dask)
    backup = open_backup(source, source_store, session=session, plain=plain)
    require_complete(backup)
    if backup.changes:
        raise NotABackupError(
            f"{backup.url} is an incremental export: it holds changes, not items; import "
            "it onto a table restored from the full export instead"
        )
    run = _ConvertRun(backup, on_progress)
    started = datetime.now(UTC)
    base = open_store(destination, store, session=session)
    if isinstance(base, LocalStore) and Path(base.url).is_file():
        raise ConfigError(f"{base.url} is a file; the destination must be a folder")
    out = start_folder(base, started, to_format)
    if dask is not None:  # workers may be set up for another region
        region = _region(store, session)
        store = replace(store, region=region)
        source_store = replace(source_store, region=source_store.region or region)
    tasks = [
        ConvertTask(
            file=file,
            format=backup.record_format(),
            folder_url=backup.url,
            source_store=source_store,
            out_url=out.url,
            store=store,
            to_format=to_format,
            max_items_per_file=max_items_per_file,
        )
        for file in backup.files
    ]
    try:
        parts = _convert(backup, tasks, run, dask, cancel)
        if dask is not None:
            sweep_folder(out, to_format, {p.key for p in parts})  # files of lost attempts
        files = finish_folder(
            out,
            parts,
            format=to_format,
            started=started,
            ended=datetime.now(UTC),
            identity=_table_identity(backup),
            sidecar=_sidecar(backup),
        )
    except BaseException as exc:
        _discard(out, to_format, run.written)
        if isinstance(exc, DdbpipeError):
            exc.discarded = out.url
        raise
    written = sum(p.items for p in parts)
    return ConvertResult(backup.url, out.url, to_format, files, written, run.elapsed)


def _check(
    to_format: str,
    max_items_per_file: int,
    plain: PlainFiles | None,
    store: StoreConfig,
    source_store: StoreConfig,
    dask: str | None,
) -> None:
    """Raise ``ConfigError`` listing every invalid setting."""
    problems = [] if plain is None else plain.problems()
    if to_format not in EXPORT_FORMATS:
        problems.append(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {to_format!r}")
    problems += count_problems("items per file", max_items_per_file, 1, MAX_ITEMS_PER_FILE)
    problems += store.problems() + source_store.problems()
    problems += dask_problems(dask, store.credentials, source_store.credentials)
    if problems:
        raise ConfigError(problems)


def _convert(
    backup: Backup,
    tasks: list[ConvertTask],
    run: _ConvertRun,
    dask: str | None,
    cancel: StopFlag | None,
) -> list[Part]:
    """Run a task per data file; return the data files written, counted against the
    items read."""
    with open_pool(dask) as pool:
        workers = min(pool.default_workers, max(len(tasks), 1))
        executor = pool.executor(workers, 1.0, 1.0)  # no table: capacity is not used
        executor.run(convert_file, tasks, run.on_event, run.on_result, cancel=cancel)
    parts = run.parts()
    written = sum(p.items for p in parts)
    if written != run.read:
        out = tasks[0].out_url if tasks else "the output folder"
        raise FatalError(f"read {run.read} items from {backup.url} but wrote {written} to {out}")
    return parts


def _bound(config: StoreConfig, session: AnySession | None) -> StoreConfig:
    """``config`` with the credentials (and default region) of ``session``: a session
    cannot cross into worker processes."""
    if session is None:
        return config
    region = config.region or session_region(session)
    return replace(config, credentials=session_credentials(session), region=region)


def _region(config: StoreConfig, session: AnySession | None) -> str | None:
    """The S3 region this side uses."""
    return config.region or session_region(session or new_session(config.profile))


def _sidecar(backup: Backup) -> bytes | None:
    if TABLE_SIDECAR_NAME not in backup.other:
        return None
    return backup.store.read_bytes(TABLE_SIDECAR_NAME)


class _ConvertRun(JobRun):
    """The parent's view of one conversion: counts, and the files each task wrote."""

    def __init__(self, backup: Backup, on_progress: ProgressCallback | None) -> None:
        super().__init__("convert", None, on_progress=on_progress, expected_bytes=backup.size)
        self.order = {file.url: n for n, file in enumerate(backup.files)}
        self.results: dict[str, ConvertFileResult] = {}
        self.written: list[Part] = []  # every file a task reported, to remove on failure
        self.read = 0

    def on_event(self, event: object) -> None:
        if isinstance(event, ItemsConverted):
            self.items += event.items
            self.bytes += event.bytes
            self.report()
        elif isinstance(event, ConvertedPart):
            self.written.append(event.part)

    def on_result(self, result: ConvertFileResult) -> None:
        self.results[result.url] = result
        self.read += result.items
        self.written.extend(result.parts)

    def parts(self) -> list[Part]:
        """The data files of every source file, in the source's order."""
        ordered = sorted(self.results.values(), key=lambda r: self.order[r.url])
        return [part for result in ordered for part in result.parts]


def _discard(out: Store, format: str, parts: list[Part]) -> None:
    """Remove everything a failed conversion wrote into ``out``."""
    with contextlib.suppress(DdbpipeError):
        for part in parts:
            out.delete(part.key)
        sweep_folder(out, format, ())
        for name in (*NATIVE_MARKERS, TABLE_SIDECAR_NAME, *DATAPIPELINE_MARKERS):
            out.delete(name)
        if isinstance(out, LocalStore):
            out.remove_empty_folders()
