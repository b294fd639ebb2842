"""Open a backup wherever it lies, and stream its items.

A Data Pipeline folder with a ``manifest`` is read through exactly the files it lists;
one without reads every file whose name does not start with ``_`` or ``.``. A native
DynamoDB export (``AWSDynamoDB/<ExportId>/``, or the prefix above it) is read through
its verified manifests. Plain files (a file, or a folder of files, in DYNAMODB_JSON,
ION or CSV, as DynamoDB's Import from S3 takes them) are read with their format given
or guessed from their names. Pointing at the wrong place (a parent folder of runs, a
file of unknown format, an empty prefix) gets a message that says what was found and
where to point instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ddbpipe.backups.layout import (
    CHECKPOINT_NAME,
    NATIVE_DATA_SUFFIXES,
    NATIVE_MARKERS,
    NATIVE_ROOT,
    NATIVE_STARTED_NAME,
    TABLE_SIDECAR_NAME,
)
from ddbpipe.backups.native_read import native_format, read_native_export
from ddbpipe.backups.reader import BackupFile, FileReader, RecordFormat
from ddbpipe.dynamo.table import table_info
from ddbpipe.errors import (
    DataError,
    DdbpipeError,
    InterruptedExportError,
    NotABackupError,
    NotFoundError,
    SeveralExportsError,
)
from ddbpipe.formats.csv import CsvOptions
from ddbpipe.formats.datapipeline import (
    MANIFEST_NAME,
    SUCCESS_NAME,
    Manifest,
    decode_manifest,
    is_data_file_name,
    manifest_file_names,
)
from ddbpipe.formats.ddbjson import MANIFEST_FILES_NAME, MANIFEST_SUMMARY_NAME, ManifestSummary
from ddbpipe.formats.detect import (
    COMPRESSIONS,
    FORMAT_CSV,
    FORMAT_DATAPIPELINE,
    INPUT_FORMATS,
    NO_COMPRESSION,
    guess_compression,
    guess_format,
)
from ddbpipe.formats.lines import LineStats
from ddbpipe.items import Item
from ddbpipe.sessions import AnySession
from ddbpipe.stores import Listing, ObjectInfo, Store, StoreConfig, open_store
from ddbpipe.wording import plural

__all__ = [
    "Backup",
    "BackupFile",
    "PlainFiles",
    "open_backup",
    "require_complete",
]

_RUN_EXAMPLES = 3
_POINT_AT = "point at a Data Pipeline backup folder (a manifest and its data files)"


@dataclass(frozen=True)
class PlainFiles:
    """How to read plain data files: their format, compression and CSV options.

    ``format`` None guesses each file's format from its name (``.json``, ``.ion``,
    ``.csv``); ``compression`` None guesses ``gzip``/``zstd`` from ``.gz``/``.zst``.
    """

    format: str | None = None
    compression: str | None = None
    csv: CsvOptions | None = None

    def problems(self) -> list[str]:
        """Every invalid setting, in the words of the command line."""
        problems: list[str] = []
        if self.format is not None and self.format not in INPUT_FORMATS:
            problems.append(
                f"input format must be one of {', '.join(INPUT_FORMATS)}, got {self.format!r}"
            )
        if self.compression is not None and self.compression not in COMPRESSIONS:
            problems.append(
                f"compression must be one of {', '.join(COMPRESSIONS)}, got {self.compression!r}"
            )
        if self.csv is not None:
            if self.format not in (None, FORMAT_CSV):
                problems.append(f"CSV options do not apply to input format {self.format}")
            problems.extend(self.csv.problems())
        return problems


@dataclass(frozen=True)
class Backup:
    """A backup folder that has been opened: its format, data files and markers."""

    store: Store
    format: str
    files: tuple[BackupFile, ...]
    manifest: Manifest | None
    succeeded: bool
    missing: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()
    other: tuple[str, ...] = field(default=())
    summary: ManifestSummary | None = None
    changes: bool = False
    csv: CsvOptions | None = None
    plain: bool = False

    @property
    def url(self) -> str:
        """Where the backup lies."""
        return self.store.url

    @property
    def size(self) -> int:
        """Bytes of data in the backup's data files."""
        return sum(f.size for f in self.files)

    @property
    def manifest_name(self) -> str:
        """The file that lists the data files: ``manifest`` or ``manifest-files.json``."""
        return MANIFEST_FILES_NAME if self.summary is not None else MANIFEST_NAME

    def problems(self) -> list[str]:
        """What makes the backup incomplete: listed files that are missing."""
        return [
            f"{self.manifest_name} lists {name!r}, which is not in {self.url}"
            for name in self.missing
        ]

    def warnings(self) -> list[str]:
        """What a careful reader should know but that does not stop an import."""
        notes: list[str] = []
        if self.manifest is not None and not self.succeeded:
            notes.append(
                f"no {SUCCESS_NAME} marker: the export that wrote this may not have finished"
            )
        notes.extend(
            f"{name!r} is not listed in the manifest and will not be read" for name in self.unlisted
        )
        if self.plain:
            notes.append("plain files have no manifest: nothing tells whether any is missing")
        return notes

    def table_description(self) -> dict[str, Any] | None:
        """The exported table as ``_table.json`` describes it (keys, indexes, billing),
        or None when the backup has none; ``DataError`` when it is damaged."""
        if TABLE_SIDECAR_NAME not in self.other:
            return None
        source = self.store.url_for(TABLE_SIDECAR_NAME)
        try:
            table: dict[str, Any] = orjson.loads(self.store.read_bytes(TABLE_SIDECAR_NAME))["table"]
            table_info({**table, "TableName": table.get("TableName", "?")})
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"table description is damaged ({exc!r})", source=source) from None
        return table

    def record_format(
        self, typed: tuple[tuple[str, str], ...] = (), key_names: tuple[str, ...] = ()
    ) -> RecordFormat:
        """How to read the data files; a CSV's typed columns come from the table."""
        return RecordFormat(self.format, self.changes, self.csv, typed, key_names)

    def reader(
        self,
        file: BackupFile,
        stats: LineStats | None = None,
        format: RecordFormat | None = None,
    ) -> FileReader:
        """A reader of one data file, decompressed and checked as it is read."""
        return FileReader(self.store, file, format or self.record_format(), stats)

    def lines(
        self, file: BackupFile, stats: LineStats | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """Stream ``(line number, record)`` of one data file, decompressed and checked."""
        return iter(self.reader(file, stats))

    def iter_items(
        self, file: BackupFile, stats: LineStats | None = None
    ) -> Iterator[tuple[int, Item]]:
        """Stream ``(line number, item)`` from one data file."""
        return self.reader(file, stats).items()


def open_backup(
    location: str | Store,
    config: StoreConfig | None = None,
    *,
    session: AnySession | None = None,
    plain: PlainFiles | None = None,
) -> Backup:
    """Open the backup at ``location``: a URL, a local path or a ``Store``.

    With ``plain`` giving a format, ``location`` is read as plain data files (one file,
    or every file below a folder) unless it is a native export. Raises
    ``NotFoundError`` for an empty or missing location, ``NotABackupError`` when the
    location is something else (a folder of runs, a file of unknown format), and
    ``DataError`` for a manifest that cannot be used.
    """
    plain = plain or PlainFiles()
    if not isinstance(location, str):
        return _open_folder(location, plain)
    store = open_store(location, config, session=session)
    try:
        return _open_folder(store, plain)
    except NotFoundError:
        parent, _, name = location.rstrip("/").rpartition("/")
        if not name or not parent or parent.endswith(":/"):
            raise
        parent_store = open_store(parent, config, session=session)
        size = _file_size(parent_store, name)
        if size is None:
            raise
        if name in (MANIFEST_SUMMARY_NAME, MANIFEST_NAME):
            return _open_folder(parent_store, plain)  # a manifest stands for its folder
        if plain.format is None and guess_format(name) is None:
            raise NotABackupError(
                f"{location} is a file; point at the folder that holds it: {parent} (or, "
                "for a plain data file, give its format with --input-format)"
            ) from None
        return _plain_backup(parent_store, [ObjectInfo(name, size)], plain)


def _file_size(parent: Store, name: str) -> int | None:
    """Bytes in the file ``name``; None when it is not a file or cannot be reached."""
    try:
        return parent.size(name)
    except DdbpipeError:
        return None


def _open_folder(store: Store, plain: PlainFiles) -> Backup:
    listing = store.list_dir()
    names = {f.key.rpartition("/")[2]: f for f in listing.files}
    if MANIFEST_NAME in names and plain.format is None:
        return _open_with_manifest(store, names)
    if MANIFEST_SUMMARY_NAME in names:
        return _open_native(store, names, plain)
    _reject_unfinished(store, names)
    if NATIVE_ROOT in listing.folders:
        root = store.child(NATIVE_ROOT)
        return _open_native_root(root, root.list_dir().folders, plain)
    if store.url.rstrip("/").endswith(f"/{NATIVE_ROOT}") and listing.folders:
        return _open_native_root(store, listing.folders, plain)
    if plain.format is not None:
        return _plain_backup(store, _walk(store), plain)
    visible = sorted(n for n in names if is_data_file_name(n))
    if visible and not listing.folders and all(guess_format(n) for n in visible):
        return _plain_backup(store, [names[n] for n in visible], plain)
    _reject_non_backup(store, listing, names)
    data = [f for name, f in sorted(names.items()) if is_data_file_name(name)]
    return Backup(
        store=store,
        format=FORMAT_DATAPIPELINE,
        files=tuple(BackupFile(f.key, store.url_for(f.key), f.size) for f in data),
        manifest=None,
        succeeded=SUCCESS_NAME in names,
        other=tuple(sorted(n for n in names if not is_data_file_name(n))),
    )


def _open_with_manifest(store: Store, names: dict[str, ObjectInfo]) -> Backup:
    source = store.url_for(MANIFEST_NAME)
    manifest = decode_manifest(store.read_bytes(MANIFEST_NAME), source=source)
    listed = manifest_file_names(manifest, source=source)
    files = tuple(
        BackupFile(names[n].key, store.url_for(names[n].key), names[n].size)
        for n in listed
        if n in names
    )
    listed_set = set(listed)
    return Backup(
        store=store,
        format=FORMAT_DATAPIPELINE,
        files=files,
        manifest=manifest,
        succeeded=SUCCESS_NAME in names,
        missing=tuple(n for n in listed if n not in names),
        unlisted=tuple(sorted(n for n in names if is_data_file_name(n) and n not in listed_set)),
        other=tuple(sorted(n for n in names if not is_data_file_name(n))),
    )


def _open_native(store: Store, names: dict[str, ObjectInfo], plain: PlainFiles) -> Backup:
    summary, files, missing = read_native_export(store)
    format, changes = native_format(summary, store.url)
    if plain.format is not None and plain.format != format:
        raise NotABackupError(
            f"{store.url} is a native export in {summary.output_format}, not {plain.format}"
        )
    return Backup(
        store=store,
        format=format,
        files=files,
        manifest=None,
        succeeded=True,
        missing=missing,
        other=tuple(sorted(names)),
        summary=summary,
        changes=changes,
    )


def _walk(store: Store, prefix: str = "") -> list[ObjectInfo]:
    """Every file below ``prefix`` whose name does not start with ``_`` or ``.``."""
    listing = store.list_dir(prefix)
    found = [f for f in listing.files if is_data_file_name(f.key.rpartition("/")[2])]
    for folder in listing.folders:
        if not folder.startswith(("_", ".")):
            found.extend(_walk(store, f"{prefix}{folder}/"))
    return found


def _plain_backup(store: Store, infos: list[ObjectInfo], plain: PlainFiles) -> Backup:
    """Plain data files, each with its format and compression given or guessed."""
    if not infos:
        raise NotFoundError(f"{store.url} holds no data files")
    formats = {plain.format or guess_format(i.key) for i in infos}
    if len(formats) != 1 or None in formats:
        shown = ", ".join(sorted(str(f) for f in formats))
        raise NotABackupError(
            f"{store.url} holds files of several or unknown formats ({shown}); give the "
            f"format (--input-format {'|'.join(INPUT_FORMATS)})"
        )
    (format,) = formats
    assert format is not None
    files = []
    for info in sorted(infos, key=lambda i: i.key):
        compression = plain.compression or guess_compression(info.key)
        files.append(
            BackupFile(
                info.key,
                store.url_for(info.key),
                info.size,
                compression=None if compression == NO_COMPRESSION else compression,
            )
        )
    return Backup(
        store=store,
        format=format,
        files=tuple(files),
        manifest=None,
        succeeded=True,
        csv=plain.csv,
        plain=True,
    )


def _open_native_root(root: Store, folders: list[str], plain: PlainFiles) -> Backup:
    """An ``AWSDynamoDB/`` folder holding ``<ExportId>/`` folders: the export there, if
    only one; several raise ``SeveralExportsError``, which ``open_chain`` orders."""
    exports = sorted(folders)
    if len(exports) == 1:
        return _open_folder(root.child(exports[0]), plain)
    shown = ", ".join(exports[-_RUN_EXAMPLES:])
    raise SeveralExportsError(
        f"{root.url} holds {len(exports)} native exports ({shown}); point at one, for "
        f"example {root.url_for(exports[-1])}",
        root_url=root.url,
        exports=exports,
    )


def _reject_unfinished(store: Store, names: dict[str, ObjectInfo]) -> None:
    """Raise ``InterruptedExportError`` for the folder of an export that did not finish:
    its data files are only part of the table."""
    if CHECKPOINT_NAME in names:
        raise InterruptedExportError(
            f"{store.url} is an export that did not finish (it has {CHECKPOINT_NAME} and no "
            "manifest); resume it to finish it",
            folder=store.url,
            resumable=True,
        )
    if NATIVE_STARTED_NAME in names:
        raise InterruptedExportError(
            f"{store.url} is a native export that did not finish (it has {NATIVE_STARTED_NAME} "
            f"and no {MANIFEST_SUMMARY_NAME}); it cannot be read",
            folder=store.url,
            resumable=False,
        )


def _reject_non_backup(store: Store, listing: Listing, names: dict[str, ObjectInfo]) -> None:
    """Raise a helpful error when a folder without a manifest is not a backup."""
    native = [m for m in NATIVE_MARKERS if m in names]
    native_data = [n for n in names if n.endswith(NATIVE_DATA_SUFFIXES)]
    if native or native_data or NATIVE_ROOT in listing.folders:
        found = ", ".join(native or native_data[:2]) or f"{NATIVE_ROOT}/"
        raise NotABackupError(
            f"{store.url} holds a DynamoDB native export ({found}), not a Data Pipeline "
            f"backup; {_POINT_AT}"
        )
    if listing.folders:
        runs = [f for f in listing.folders if store.child(f).exists(MANIFEST_NAME)]
        if runs:
            newest = sorted(runs)[-1]
            shown = ", ".join(sorted(runs)[-_RUN_EXAMPLES:])
            raise NotABackupError(
                f"{store.url} is a folder of {plural(len(runs), 'backup run')} ({shown}); "
                f"point at one run, for example {store.url_for(newest)}"
            )
        raise NotABackupError(
            f"{store.url} has no manifest and holds subfolders "
            f"({', '.join(listing.folders[:_RUN_EXAMPLES])}); point at the folder that holds "
            "the manifest and the data files"
        )
    if not any(is_data_file_name(n) for n in names):
        if names:
            raise NotABackupError(
                f"{store.url} holds no data files (only {', '.join(sorted(names))}); {_POINT_AT}"
            )
        raise NotFoundError(f"{store.url} does not exist or is empty")


def require_complete(backup: Backup) -> None:
    """Raise ``DataError`` if the manifest lists files that are not in the folder."""
    if backup.missing:
        raise DataError(
            f"{backup.manifest_name} lists {plural(len(backup.missing), 'file')} that "
            f"{'is' if len(backup.missing) == 1 else 'are'} not in the folder: "
            + ", ".join(backup.missing[:_RUN_EXAMPLES]),
            source=backup.store.url_for(backup.manifest_name),
        )
