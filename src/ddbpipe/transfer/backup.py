"""Open a backup folder wherever it lies, and stream its items.

A Data Pipeline folder with a ``manifest`` is read through exactly the files it lists;
one without reads every file whose name does not start with ``_`` or ``.``. Pointing at
the wrong place (a parent folder of runs, a native DynamoDB export, a file, an empty
prefix) gets a message that says what was found and where to point instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ddbpipe.errors import DataError, DdbpipeError, NotABackupError, NotFoundError
from ddbpipe.formats.datapipeline import (
    MANIFEST_NAME,
    SUCCESS_NAME,
    LineStats,
    Manifest,
    decode_manifest,
    is_data_file_name,
    manifest_file_names,
)
from ddbpipe.formats.ddbjson import MANIFEST_SUMMARY_NAME, ManifestSummary
from ddbpipe.items import Item
from ddbpipe.sessions import AnySession
from ddbpipe.stores import Listing, ObjectInfo, Store, StoreConfig, open_store
from ddbpipe.transfer.native import read_native_export
from ddbpipe.transfer.readers import (
    FORMAT_DATAPIPELINE,
    FORMAT_DYNAMODB_JSON,
    BackupFile,
    decoder_for,
    file_lines,
)

__all__ = ["FORMAT_DATAPIPELINE", "Backup", "BackupFile", "open_backup", "require_complete"]

_NATIVE_MARKERS = ("manifest-summary.json", "manifest-files.json", "_started")
_RUN_EXAMPLES = 3
_NATIVE_ROOT = "AWSDynamoDB"
_NATIVE_DATA_SUFFIXES = (".json.gz", ".ion.gz")
_POINT_AT = "point at a Data Pipeline backup folder (a manifest and its data files)"


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

    @property
    def url(self) -> str:
        """Where the backup lies."""
        return self.store.url

    @property
    def size(self) -> int:
        """Bytes of data in the backup's data files."""
        return sum(f.size for f in self.files)

    def problems(self) -> list[str]:
        """What makes the backup incomplete: listed files that are missing."""
        return [f"manifest lists {name!r}, which is not in {self.url}" for name in self.missing]

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
        return notes

    def lines(
        self, file: BackupFile, stats: LineStats | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """Stream ``(line number, line)`` of one data file, decompressed and checked."""
        return file_lines(self.store, file, stats)

    def iter_items(
        self, file: BackupFile, stats: LineStats | None = None
    ) -> Iterator[tuple[int, Item]]:
        """Stream ``(line number, item)`` from one data file."""
        decode = decoder_for(self.format)
        for number, line in self.lines(file, stats):
            yield number, decode(line, file.url, number)


def open_backup(
    location: str | Store,
    config: StoreConfig | None = None,
    *,
    session: AnySession | None = None,
) -> Backup:
    """Open the backup folder at ``location``: a URL, a local path or a ``Store``.

    Raises ``NotFoundError`` for an empty or missing folder, ``NotABackupError`` when the
    location is something else (a file, a folder of runs, a native export), and
    ``DataError`` for a manifest that cannot be used.
    """
    if not isinstance(location, str):
        return _open_folder(location)
    store = open_store(location, config, session=session)
    try:
        return _open_folder(store)
    except NotFoundError:
        parent, _, name = location.rstrip("/").rpartition("/")
        if (
            name
            and parent
            and not parent.endswith(":/")
            and _is_file(open_store(parent, config, session=session), name)
        ):
            raise NotABackupError(
                f"{location} is a file; point at the folder that holds it: {parent}"
            ) from None
        raise


def _is_file(parent: Store, name: str) -> bool:
    try:
        return parent.exists(name)
    except DdbpipeError:
        return False


def _open_folder(store: Store) -> Backup:
    listing = store.list_dir()
    names = {f.key.rpartition("/")[2]: f for f in listing.files}
    if MANIFEST_NAME in names:
        return _open_with_manifest(store, names)
    if MANIFEST_SUMMARY_NAME in names:
        summary, files, missing = read_native_export(store)
        return Backup(
            store=store,
            format=FORMAT_DYNAMODB_JSON,
            files=files,
            manifest=None,
            succeeded=True,
            missing=missing,
            other=tuple(sorted(names)),
            summary=summary,
        )
    if _NATIVE_ROOT in listing.folders:
        return _open_native_root(store)
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


def _open_native_root(store: Store) -> Backup:
    """A prefix holding ``AWSDynamoDB/<ExportId>/``: the export there, if only one."""
    root = store.child(_NATIVE_ROOT)
    exports = sorted(root.list_dir().folders)
    if len(exports) == 1:
        return _open_folder(root.child(exports[0]))
    shown = ", ".join(exports[-_RUN_EXAMPLES:])
    raise NotABackupError(
        f"{root.url} holds {len(exports)} native exports ({shown}); point at one, for "
        f"example {root.url_for(exports[-1])}"
    )


def _reject_non_backup(store: Store, listing: Listing, names: dict[str, ObjectInfo]) -> None:
    """Raise a helpful error when a folder without a manifest is not a backup."""
    native = [m for m in _NATIVE_MARKERS if m in names]
    native_data = [n for n in names if n.endswith(_NATIVE_DATA_SUFFIXES)]
    if native or native_data or "AWSDynamoDB" in listing.folders:
        found = ", ".join(native or native_data[:2]) or "AWSDynamoDB/"
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
                f"{store.url} is a folder of {len(runs)} backup runs ({shown}); "
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
            f"manifest lists {len(backup.missing)} file(s) that are not in the folder: "
            + ", ".join(backup.missing[:_RUN_EXAMPLES]),
            source=backup.store.url_for(MANIFEST_NAME),
        )
