"""Finish an export in DynamoDB's native layout: ``AWSDynamoDB/<ExportId>/`` manifests.

The data files (``data/<26 base32 characters>.json.gz`` or ``.ion.gz``) are written by the segment
tasks; this writes ``manifest-files.json`` and ``manifest-summary.json`` with their
``.md5`` files, as DynamoDB's Export to S3 does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

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
from ddbpipe.stores import Store, split_s3_url
from ddbpipe.transfer.checkpoint import PartRecord
from ddbpipe.transfer.readers import FORMAT_DYNAMODB_JSON, FORMAT_ION

__all__ = [
    "NATIVE_DATA_FOLDER",
    "NATIVE_ROOT",
    "NATIVE_STARTED_NAME",
    "finish_native_export",
    "native_export_id",
    "table_arn_of",
]

NATIVE_ROOT = "AWSDynamoDB"
NATIVE_DATA_FOLDER = "data"
NATIVE_STARTED_NAME = "_started"


def native_export_id(started: datetime) -> str:
    """``<14-digit epoch milliseconds>-<8 hex>``, the shape of DynamoDB's ExportId."""
    milliseconds = int(started.timestamp() * 1000)
    return f"{milliseconds:014d}-{secrets.token_hex(4)}"


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def finish_native_export(
    store: Store,
    parts: Sequence[PartRecord],
    *,
    started: datetime,
    ended: datetime,
    table_arn: str,
    table_id: str = "",
    format: str = FORMAT_DYNAMODB_JSON,
) -> tuple[str, ...]:
    """Write both manifests and their checksums; return the data files' URLs."""
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
            export_arn=f"{table_arn}/export/{export_id}",
            start_time=_iso(started),
            end_time=_iso(ended),
            table_arn=table_arn,
            table_id=table_id,
            s3_bucket=bucket,
            manifest_files_s3_key=f"{folder_key}/{MANIFEST_FILES_NAME}",
            billed_size_bytes=0,
            item_count=sum(p.items for p in parts),
            output_format="ION" if format == FORMAT_ION else "DYNAMODB_JSON",
            export_time=_iso(started),
            s3_prefix=prefix,
        )
    )
    store.write_bytes(MANIFEST_FILES_NAME, manifest_files)
    store.write_bytes("manifest-files.md5", md5_text(manifest_files).encode("ascii"))
    store.write_bytes(MANIFEST_SUMMARY_NAME, summary)
    store.write_bytes("manifest-summary.md5", md5_text(summary).encode("ascii"))
    return tuple(store.url_for(p.key) for p in parts)


def table_arn_of(description: dict[str, object], region: str) -> str:
    """The table's ARN from its description, or one in the ARN's shape when unknown."""
    arn = description.get("TableArn")
    name = description.get("TableName", "table")
    return str(arn) if arn else f"arn:aws:dynamodb:{region}:000000000000:table/{name}"
