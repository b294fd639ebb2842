"""Start and finish an output folder, in the Data Pipeline layout or DynamoDB's native one.

A run starts by making sure its folder is new (an export never overwrites one); a native
export also marks it with ``_started``. Data files are written by ``PartSink``. Finishing
writes what makes the folder whole: for Data Pipeline a v3 ``manifest`` listing the data
files by absolute URL, sorted as the real exporter's single reducer sorted them (by
reversed name), then ``_SUCCESS``, last; for a native export ``manifest-files.json`` and
``manifest-summary.json`` with their ``.md5`` files, as DynamoDB's Export to S3 writes
them. ``_table.json`` is written in both, before the folder is marked finished.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ddbpipe.backups.layout import (
    NATIVE_DATA_FOLDER,
    NATIVE_ROOT,
    NATIVE_STARTED_NAME,
    TABLE_SIDECAR_NAME,
    checksum_name,
    is_native_data_key,
    run_folder_name,
)
from ddbpipe.backups.parts import Part
from ddbpipe.errors import AlreadyExistsError, BucketNotFoundError, NotFoundError
from ddbpipe.formats.datapipeline import (
    MANIFEST_NAME,
    SUCCESS_NAME,
    encode_manifest,
    is_data_file_name,
)
from ddbpipe.formats.ddbjson import (
    FULL_EXPORT_VERSION,
    MANIFEST_FILES_NAME,
    MANIFEST_SUMMARY_NAME,
    ManifestFileEntry,
    ManifestSummary,
    encode_manifest_files,
    encode_manifest_summary,
    md5_text,
)
from ddbpipe.formats.detect import FORMAT_ION, NATIVE_FORMATS
from ddbpipe.stores import Store, split_s3_url

__all__ = [
    "FolderIdentity",
    "ensure_new_folder",
    "finish_folder",
    "manifest_url",
    "start_folder",
    "sweep_folder",
    "table_arn_of",
]


@dataclass(frozen=True)
class FolderIdentity:
    """What a finished folder says of where its items came from."""

    table_arn: str
    table_id: str = ""


def ensure_new_folder(store: Store) -> None:
    """Raise ``AlreadyExistsError`` unless nothing exists at ``store`` yet."""
    try:
        listing = store.list_dir()
    except BucketNotFoundError:
        raise
    except NotFoundError:
        return  # the run folder does not exist yet: as it should be
    if listing.files or listing.folders:
        raise AlreadyExistsError(f"{store.url} already exists; an export never overwrites one")


def start_folder(
    destination: Store,
    started: datetime,
    format: str,
    run_name: str | None = None,
    *,
    exact: bool = False,
) -> Store:
    """The new run folder under ``destination`` for a run started at ``started``.

    ``run_name`` names a Data Pipeline run folder instead of the start time; with
    ``exact``, ``destination`` itself is the run folder.
    """
    name = run_folder_name(started, format)
    if run_name is not None and format not in NATIVE_FORMATS:
        name = run_name
    store = destination if exact else destination.child(name)
    ensure_new_folder(store)
    if format in NATIVE_FORMATS:
        store.write_bytes(NATIVE_STARTED_NAME, b"")
    return store


def sweep_folder(store: Store, format: str, kept: Collection[str]) -> int:
    """Remove what unfinished writes left in a run folder (temporary files, open
    multipart uploads) and every data file that ``kept`` does not name: files of task
    attempts that were lost or stopped, whose items are elsewhere. Return how many data
    files were removed."""
    store.abort_incomplete_writes()
    native = format in NATIVE_FORMATS
    try:
        present = store.list_dir(NATIVE_DATA_FOLDER if native else "").files
    except NotFoundError:
        return 0
    removed = 0
    for info in present:
        if info.key in kept:
            continue
        if is_native_data_key(info.key) if native else is_data_file_name(info.key):
            store.delete(info.key)
            removed += 1
    return removed


def manifest_url(store: Store, key: str) -> str:
    """The absolute URL a manifest lists for ``key``: ``s3://...`` or ``file://...``."""
    url = store.url_for(key)
    return url if "://" in url else Path(url).as_uri()


def finish_folder(
    store: Store,
    parts: Sequence[Part],
    *,
    format: str,
    started: datetime,
    ended: datetime,
    identity: FolderIdentity,
    sidecar: bytes | None,
) -> tuple[str, ...]:
    """Write ``_table.json`` (when ``sidecar`` is given), the manifests and, for Data
    Pipeline, ``_SUCCESS`` last; return the data files' URLs in manifest order."""
    if sidecar is not None:
        store.write_bytes(TABLE_SIDECAR_NAME, sidecar)
    if format in NATIVE_FORMATS:  # the manifest summary is a native export's mark of completion
        return _write_native_manifests(store, parts, started, ended, identity, format)
    ordered = sorted(parts, key=lambda p: p.key[::-1])
    files = tuple(manifest_url(store, p.key) for p in ordered)
    store.write_bytes(MANIFEST_NAME, encode_manifest(files))
    store.write_bytes(SUCCESS_NAME, b"")
    return files


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _write_native_manifests(
    store: Store,
    parts: Sequence[Part],
    started: datetime,
    ended: datetime,
    identity: FolderIdentity,
    format: str,
) -> tuple[str, ...]:
    export_id = store.url.rstrip("/").rpartition("/")[2]
    if store.url.startswith("s3://"):
        bucket, folder_key = split_s3_url(store.url)
    else:
        bucket, folder_key = "", f"{NATIVE_ROOT}/{export_id}"
    prefix = folder_key.removesuffix(f"{NATIVE_ROOT}/{export_id}").rstrip("/") or None
    entries = []
    for part in parts:
        digest = base64.b64decode(part.md5 or "")
        entries.append(
            ManifestFileEntry(
                item_count=part.items,
                md5_checksum=part.md5 or "",
                etag=hashlib.md5(digest).hexdigest() + "-1",
                data_file_s3_key=f"{folder_key}/{part.key}",
            )
        )
    manifest_files = encode_manifest_files(entries)
    summary = encode_manifest_summary(
        ManifestSummary(
            version=FULL_EXPORT_VERSION,
            export_arn=f"{identity.table_arn}/export/{export_id}",
            start_time=_iso(started),
            end_time=_iso(ended),
            table_arn=identity.table_arn,
            table_id=identity.table_id,
            s3_bucket=bucket,
            manifest_files_s3_key=f"{folder_key}/{MANIFEST_FILES_NAME}",
            billed_size_bytes=0,
            item_count=sum(p.items for p in parts),
            output_format="ION" if format == FORMAT_ION else "DYNAMODB_JSON",
            export_time=_iso(started),
            s3_prefix=prefix,
        )
    )
    for name, data in ((MANIFEST_FILES_NAME, manifest_files), (MANIFEST_SUMMARY_NAME, summary)):
        store.write_bytes(name, data)
        store.write_bytes(checksum_name(name), md5_text(data).encode("ascii"))
    return tuple(store.url_for(p.key) for p in parts)


def table_arn_of(description: dict[str, object], region: str) -> str:
    """The table's ARN from its description, or one in the ARN's shape when unknown."""
    arn = description.get("TableArn")
    name = description.get("TableName", "table")
    return str(arn) if arn else f"arn:aws:dynamodb:{region}:000000000000:table/{name}"
