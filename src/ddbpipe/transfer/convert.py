"""Convert a backup into another format: streamed, counted, without touching a table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from ddbpipe.errors import ConfigError, FatalError, NotABackupError
from ddbpipe.formats.datapipeline import MANIFEST_NAME, SUCCESS_NAME, encode_manifest
from ddbpipe.items import Item
from ddbpipe.stores import StoreConfig, open_store
from ddbpipe.transfer.backup import Backup, PlainFiles, open_backup, require_complete
from ddbpipe.transfer.checkpoint import PartRecord
from ddbpipe.transfer.export import (
    EXPORT_FORMATS,
    MAX_ITEMS_PER_FILE,
    NATIVE_FORMATS,
    RUN_FORMAT,
    TABLE_SIDECAR_NAME,
    ensure_new_folder,
    manifest_url,
)
from ddbpipe.transfer.export_task import PartSink
from ddbpipe.transfer.native_export import (
    NATIVE_ROOT,
    NATIVE_STARTED_NAME,
    finish_native_export,
    native_export_id,
    table_arn_of,
)

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


def _table_identity(backup: Backup) -> tuple[str, str]:
    """The source table's ARN and id, as far as the backup tells them."""
    if backup.summary is not None:
        return backup.summary.table_arn, backup.summary.table_id
    description: dict[str, object] = {}
    if TABLE_SIDECAR_NAME in backup.other:
        description = orjson.loads(backup.store.read_bytes(TABLE_SIDECAR_NAME))["table"]
    return table_arn_of(description, "unknown"), str(description.get("TableId", ""))


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
    native = to_format in NATIVE_FORMATS
    name = f"{NATIVE_ROOT}/{native_export_id(started)}" if native else started.strftime(RUN_FORMAT)
    out = open_store(destination, store).child(name)
    ensure_new_folder(out)
    if native:
        out.write_bytes(NATIVE_STARTED_NAME, b"")
    sink = PartSink(
        out,
        format=to_format,
        max_items=max_items_per_file,
        key_names=(),
        segment=0,
        emit=lambda event: None,
    )
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
    parts = [PartRecord(p.key, p.items, p.bytes, p.md5) for p in sink.parts]
    written = sum(p.items for p in parts)
    if written != read:
        raise FatalError(f"read {read} items from {backup.url} but wrote {written} to {out.url}")
    if native:
        table_arn, table_id = _table_identity(backup)
        files = finish_native_export(
            out,
            parts,
            started=started,
            ended=datetime.now(UTC),
            table_arn=table_arn,
            table_id=table_id,
            format=to_format,
        )
    else:
        ordered = sorted(parts, key=lambda p: p.key[::-1])
        files = tuple(manifest_url(out, p.key) for p in ordered)
        out.write_bytes(MANIFEST_NAME, encode_manifest(files))
    if TABLE_SIDECAR_NAME in backup.other:
        out.write_bytes(TABLE_SIDECAR_NAME, backup.store.read_bytes(TABLE_SIDECAR_NAME))
    if not native:
        out.write_bytes(SUCCESS_NAME, b"")
    return ConvertResult(backup.url, out.url, to_format, files, written, time.monotonic() - clock)
