"""Open a DynamoDB native export (``AWSDynamoDB/<ExportId>/``) and check its manifests.

The summary and the files manifest are checked against their ``.md5`` (or
``.checksum``) files; data files are named by the last part of their manifest key, so an
export copied elsewhere is read where it now lies. Each data file keeps its MD5 and item
count from the manifest, which ``reader.FileReader`` checks as the file is read.
"""

from __future__ import annotations

from ddbpipe.backups.layout import NATIVE_DATA_FOLDER, checksum_name
from ddbpipe.backups.reader import BackupFile
from ddbpipe.errors import DataError, NotABackupError, NotFoundError
from ddbpipe.formats.ddbjson import (
    MANIFEST_FILES_NAME,
    MANIFEST_SUMMARY_NAME,
    ManifestSummary,
    decode_manifest_files,
    decode_manifest_summary,
    verify_md5,
)
from ddbpipe.formats.detect import FORMAT_DYNAMODB_JSON, FORMAT_ION
from ddbpipe.stores import ObjectInfo, Store

__all__ = ["INCREMENTAL_EXPORT", "native_format", "read_native_export"]

_FULL_EXPORT = "FULL_EXPORT"
INCREMENTAL_EXPORT = "INCREMENTAL_EXPORT"
_FORMATS = {"DYNAMODB_JSON": FORMAT_DYNAMODB_JSON, "ION": FORMAT_ION}


def native_format(summary: ManifestSummary, url: str) -> tuple[str, bool]:
    """The export's data format, and whether it is incremental (records are changes)."""
    if summary.output_format not in _FORMATS:
        raise NotABackupError(
            f"{url} is a native export in {summary.output_format!r}; ddbpipe reads "
            "DYNAMODB_JSON and ION"
        )
    export_type = summary.export_type or _FULL_EXPORT
    if export_type not in (_FULL_EXPORT, INCREMENTAL_EXPORT):
        raise NotABackupError(f"{url} is a native export of unknown type {export_type!r}")
    return _FORMATS[summary.output_format], export_type == INCREMENTAL_EXPORT


def _checked_bytes(store: Store, name: str) -> bytes:
    """The file ``name``, checked against ``<stem>.md5`` or ``<stem>.checksum`` when present."""
    data = store.read_bytes(name)
    stem = name.removesuffix(".json")
    for checksum in (checksum_name(name), f"{stem}.checksum"):
        if store.exists(checksum):
            verify_md5(data, store.read_bytes(checksum), source=store.url_for(name))
            break
    return data


def read_native_export(
    store: Store,
) -> tuple[ManifestSummary, tuple[BackupFile, ...], tuple[str, ...]]:
    """The summary, the data files and the names of listed files that are missing."""
    summary = decode_manifest_summary(
        _checked_bytes(store, MANIFEST_SUMMARY_NAME), source=store.url_for(MANIFEST_SUMMARY_NAME)
    )
    native_format(summary, store.url)
    entries = decode_manifest_files(
        _checked_bytes(store, MANIFEST_FILES_NAME), source=store.url_for(MANIFEST_FILES_NAME)
    )
    listed = sum(entry.item_count for entry in entries)
    if listed != summary.item_count:
        raise DataError(
            f"the data files hold {listed} items by their entries, the summary says "
            f"{summary.item_count}",
            source=store.url_for(MANIFEST_FILES_NAME),
        )
    present = {f.key.rpartition("/")[2]: f.size for f in _data_listing(store)}
    files: list[BackupFile] = []
    missing: list[str] = []
    for entry in entries:
        name = entry.data_file_s3_key.rpartition("/")[2]
        if name not in present:
            missing.append(f"{NATIVE_DATA_FOLDER}/{name}")
            continue
        key = f"{NATIVE_DATA_FOLDER}/{name}"
        files.append(
            BackupFile(
                key=key,
                url=store.url_for(key),
                size=present[name],
                compression="gzip" if name.endswith(".gz") else None,
                md5=entry.md5_checksum,
                item_count=entry.item_count,
            )
        )
    return summary, tuple(files), tuple(missing)


def _data_listing(store: Store) -> list[ObjectInfo]:
    try:
        return store.list_dir(NATIVE_DATA_FOLDER).files
    except NotFoundError:
        return []  # no data folder: every listed file is reported missing
