"""Convert a backup into another format: streamed, counted, without touching a table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from ddbpipe.backups.layout import TABLE_SIDECAR_NAME
from ddbpipe.backups.opener import Backup, PlainFiles, open_backup, require_complete
from ddbpipe.backups.output import FolderIdentity, finish_folder, start_folder, table_arn_of
from ddbpipe.backups.parts import PartSink
from ddbpipe.errors import ConfigError, FatalError, NotABackupError
from ddbpipe.formats.detect import EXPORT_FORMATS
from ddbpipe.items import Item
from ddbpipe.stores import StoreConfig, open_store
from ddbpipe.transfer.export import MAX_ITEMS_PER_FILE

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
) -> ConvertResult:
    """Write every item of the backup at ``source`` into a new folder under ``destination``
    in ``to_format``; the items written are counted against the items read."""
    problems = [] if plain is None else plain.problems()
    if to_format not in EXPORT_FORMATS:
        problems.append(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {to_format!r}")
    if problems:
        raise ConfigError(problems)
    clock = time.monotonic()
    backup = open_backup(source, source_store, plain=plain)
    require_complete(backup)
    if backup.changes:
        raise NotABackupError(
            f"{backup.url} is an incremental export: it holds changes, not items; import "
            "it onto a table restored from the full export instead"
        )
    started = datetime.now(UTC)
    out = start_folder(open_store(destination, store), started, to_format)
    sink = PartSink(out, format=to_format, max_items=max_items_per_file)
    read = 0
    try:
        for file in backup.files:
            page: list[Item] = []
            for _, item in backup.iter_items(file):
                page.append(item)
                if len(page) >= _PAGE_ITEMS:
                    sink.write(page)
                    read += len(page)
                    page = []
            sink.write(page)
            read += len(page)
        sink.close()
    except BaseException as exc:
        sink.abort(exc)
        raise
    parts = sink.parts
    written = sum(p.items for p in parts)
    if written != read:
        raise FatalError(f"read {read} items from {backup.url} but wrote {written} to {out.url}")
    sidecar = None
    if TABLE_SIDECAR_NAME in backup.other:
        sidecar = backup.store.read_bytes(TABLE_SIDECAR_NAME)
    files = finish_folder(
        out,
        parts,
        format=to_format,
        started=started,
        ended=datetime.now(UTC),
        identity=_table_identity(backup),
        sidecar=sidecar,
    )
    return ConvertResult(backup.url, out.url, to_format, files, written, time.monotonic() - clock)
