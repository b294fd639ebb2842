"""Convert a backup into another format: streamed, counted, without touching a table."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ddbpipe.backups.layout import DATAPIPELINE_MARKERS, NATIVE_MARKERS, TABLE_SIDECAR_NAME
from ddbpipe.backups.opener import Backup, PlainFiles, open_backup, require_complete
from ddbpipe.backups.output import FolderIdentity, finish_folder, start_folder, table_arn_of
from ddbpipe.backups.parts import Part, PartSink
from ddbpipe.errors import CancelledError, ConfigError, DdbpipeError, FatalError, NotABackupError
from ddbpipe.formats.detect import EXPORT_FORMATS
from ddbpipe.formats.lines import LineStats
from ddbpipe.items import Item
from ddbpipe.sessions import AnySession
from ddbpipe.stores import LocalStore, Store, StoreConfig, open_store
from ddbpipe.transfer.cancel import StopFlag
from ddbpipe.transfer.export import MAX_ITEMS_PER_FILE
from ddbpipe.transfer.options import count_problems
from ddbpipe.transfer.progress import JobRun, ProgressCallback

__all__ = ["ConvertResult", "convert_backup"]

_PAGE_ITEMS = 1000


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
) -> ConvertResult:
    """Write every item of the backup at ``source`` into a new folder under ``destination``
    in ``to_format``; the items written are counted against the items read.

    A conversion that fails or is cancelled removes what it wrote (the error's
    ``discarded`` names the folder), so a new run starts clean.
    """
    store = store or StoreConfig()
    problems = [] if plain is None else plain.problems()
    if to_format not in EXPORT_FORMATS:
        problems.append(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {to_format!r}")
    problems += count_problems("items per file", max_items_per_file, 1, MAX_ITEMS_PER_FILE)
    problems += store.problems() + (source_store.problems() if source_store else [])
    if problems:
        raise ConfigError(problems)
    run = JobRun("convert", None, on_progress=on_progress)
    backup = open_backup(source, source_store or store, session=session, plain=plain)
    require_complete(backup)
    if backup.changes:
        raise NotABackupError(
            f"{backup.url} is an incremental export: it holds changes, not items; import "
            "it onto a table restored from the full export instead"
        )
    run.expected_bytes = backup.size
    started = datetime.now(UTC)
    base = open_store(destination, store, session=session)
    if isinstance(base, LocalStore) and Path(base.url).is_file():
        raise ConfigError(f"{base.url} is a file; the destination must be a folder")
    out = start_folder(base, started, to_format)
    sink = PartSink(out, format=to_format, max_items=max_items_per_file)
    try:
        read = _copy_items(backup, sink, run, cancel)
        written = sum(p.items for p in sink.parts)
        if written != read:
            raise FatalError(
                f"read {read} items from {backup.url} but wrote {written} to {out.url}"
            )
        sidecar = None
        if TABLE_SIDECAR_NAME in backup.other:
            sidecar = backup.store.read_bytes(TABLE_SIDECAR_NAME)
        files = finish_folder(
            out,
            sink.parts,
            format=to_format,
            started=started,
            ended=datetime.now(UTC),
            identity=_table_identity(backup),
            sidecar=sidecar,
        )
    except BaseException as exc:
        _discard(out, sink.parts)
        if isinstance(exc, DdbpipeError):
            exc.discarded = out.url
        raise
    return ConvertResult(backup.url, out.url, to_format, files, written, run.elapsed)


def _copy_items(backup: Backup, sink: PartSink, run: JobRun, cancel: StopFlag | None) -> int:
    """Write every item of ``backup`` to ``sink``, a page at a time; return how many."""
    read = files_bytes = 0
    try:
        for file in backup.files:
            stats = LineStats()
            page: list[Item] = []
            for _, item in backup.iter_items(file, stats):
                page.append(item)
                if len(page) >= _PAGE_ITEMS:
                    if cancel is not None and cancel.is_set():
                        raise CancelledError("the conversion was cancelled")
                    read += _write_page(sink, page, run, read, files_bytes + stats.bytes)
                    page = []
            read += _write_page(sink, page, run, read, files_bytes + stats.bytes)
            files_bytes += stats.bytes
        sink.close()
    except BaseException as exc:
        sink.abort(exc)
        raise
    return read


def _write_page(sink: PartSink, page: list[Item], run: JobRun, before: int, read: int) -> int:
    sink.write(page)
    run.items, run.bytes = before + len(page), read
    run.report()
    return len(page)


def _discard(out: Store, parts: list[Part]) -> None:
    """Remove everything a failed conversion wrote into ``out``."""
    with contextlib.suppress(DdbpipeError):
        for part in parts:
            out.delete(part.key)
        for name in (*NATIVE_MARKERS, TABLE_SIDECAR_NAME, *DATAPIPELINE_MARKERS):
            out.delete(name)
        out.abort_incomplete_writes()
        if isinstance(out, LocalStore):
            out.remove_empty_folders()
