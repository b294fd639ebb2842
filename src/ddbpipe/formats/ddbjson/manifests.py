"""The manifests and checksum files of a native DynamoDB export.

``manifest-summary.json`` is one line of compact JSON with no trailing newline;
``manifest-files.json`` is JSON Lines, one compact object per data file, each line
ending in ``\\n``; ``manifest-summary.md5`` / ``manifest-files.md5`` hold the base64 MD5
digest (24 characters, no newline) of the manifest's exact bytes. The writers give the
key order of the real files, so a real manifest re-encodes to its own bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from ddbpipe.errors import DataError
from ddbpipe.formats.lines import iter_lines

__all__ = [
    "FULL_EXPORT_VERSION",
    "INCREMENTAL_EXPORT_VERSION",
    "MANIFEST_FILES_NAME",
    "MANIFEST_SUMMARY_NAME",
    "ManifestFileEntry",
    "ManifestSummary",
    "decode_manifest_files",
    "decode_manifest_summary",
    "encode_manifest_files",
    "encode_manifest_summary",
    "md5_text",
    "verify_md5",
]

MANIFEST_SUMMARY_NAME = "manifest-summary.json"
MANIFEST_FILES_NAME = "manifest-files.json"
FULL_EXPORT_VERSION = "2020-06-30"
INCREMENTAL_EXPORT_VERSION = "2023-08-01"
_VERSIONS = (FULL_EXPORT_VERSION, INCREMENTAL_EXPORT_VERSION)


@dataclass(frozen=True)
class ManifestSummary:
    """``manifest-summary.json``: what was exported, from where, to where, how much.

    Times are kept as the ISO-8601 text the service writes (``2022-11-12T04:30:50.456Z``).
    Fields that only some exports carry are None when absent.
    """

    version: str
    export_arn: str
    start_time: str
    end_time: str
    table_arn: str
    table_id: str
    s3_bucket: str
    manifest_files_s3_key: str
    billed_size_bytes: int
    item_count: int
    output_format: str
    export_time: str | None = None
    export_from_time: str | None = None
    export_to_time: str | None = None
    s3_prefix: str | None = None
    s3_sse_algorithm: str | None = None
    s3_sse_kms_key_id: str | None = None
    output_view: str | None = None
    export_type: str | None = None


# (JSON key, field, required, written as null when None) in the order real files use.
_SUMMARY_FIELDS: tuple[tuple[str, str, bool, bool], ...] = (
    ("version", "version", True, True),
    ("exportArn", "export_arn", True, True),
    ("startTime", "start_time", True, True),
    ("endTime", "end_time", True, True),
    ("tableArn", "table_arn", True, True),
    ("tableId", "table_id", True, True),
    ("exportTime", "export_time", False, False),
    ("exportFromTime", "export_from_time", False, False),
    ("exportToTime", "export_to_time", False, False),
    ("s3Bucket", "s3_bucket", True, True),
    ("s3Prefix", "s3_prefix", False, True),
    ("s3SseAlgorithm", "s3_sse_algorithm", False, True),
    ("s3SseKmsKeyId", "s3_sse_kms_key_id", False, True),
    ("manifestFilesS3Key", "manifest_files_s3_key", True, True),
    ("billedSizeBytes", "billed_size_bytes", True, True),
    ("itemCount", "item_count", True, True),
    ("outputFormat", "output_format", True, True),
    ("outputView", "output_view", False, False),
    ("exportType", "export_type", False, False),
)
_COUNTS = frozenset({"billed_size_bytes", "item_count"})


@dataclass(frozen=True)
class ManifestFileEntry:
    """One line of ``manifest-files.json``: a data object and how to check it.

    ``md5_checksum`` is the base64 MD5 of the object as stored (the gzip bytes);
    ``etag`` its S3 ETag; ``data_file_s3_key`` its full key, prefix included.
    """

    item_count: int
    md5_checksum: str
    etag: str
    data_file_s3_key: str


def _json_object(data: bytes, what: str, source: str, line: int | None = None) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"{what} is not valid JSON ({exc})", source=source, line=line) from None
    if not isinstance(parsed, dict):
        raise DataError(f"{what} must be a JSON object", source=source, line=line)
    return parsed


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def encode_manifest_summary(summary: ManifestSummary) -> bytes:
    """The ``manifest-summary.json`` bytes: compact, real key order, no trailing newline."""
    fields: dict[str, object] = {}
    for key, name, _required, nullable in _SUMMARY_FIELDS:
        value = getattr(summary, name)
        if value is not None or nullable:
            fields[key] = value
    return orjson.dumps(fields)


def decode_manifest_summary(data: bytes, *, source: str = MANIFEST_SUMMARY_NAME) -> ManifestSummary:
    """Parse ``manifest-summary.json``; raise ``DataError`` naming ``source`` if unusable.

    Keys the format does not define are ignored.
    """
    parsed = _json_object(data, "export summary manifest", source)
    values: dict[str, Any] = {}
    for key, name, required, _nullable in _SUMMARY_FIELDS:
        value = parsed.get(key)
        if value is None:
            if required:
                raise DataError(f"export summary manifest has no {key}", source=source)
        elif name in _COUNTS:
            if not _is_count(value):
                raise DataError(f"{key} must be a whole number, got {value!r:.40}", source=source)
        elif not isinstance(value, str):
            raise DataError(f"{key} must be a string, got {value!r:.40}", source=source)
        values[name] = value
    if values["version"] not in _VERSIONS:
        raise DataError(
            f"export manifest version {values['version']!r} is not known "
            f"(known: {', '.join(_VERSIONS)})",
            source=source,
        )
    return ManifestSummary(**values)


def encode_manifest_files(entries: Sequence[ManifestFileEntry]) -> bytes:
    """The ``manifest-files.json`` bytes: one compact line per entry, each ending in ``\\n``."""
    return b"".join(
        orjson.dumps(
            {
                "itemCount": entry.item_count,
                "md5Checksum": entry.md5_checksum,
                "etag": entry.etag,
                "dataFileS3Key": entry.data_file_s3_key,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        for entry in entries
    )


def decode_manifest_files(
    data: bytes, *, source: str = MANIFEST_FILES_NAME
) -> tuple[ManifestFileEntry, ...]:
    """Parse ``manifest-files.json``; raise ``DataError`` naming ``source`` and the line."""
    entries: list[ManifestFileEntry] = []
    for number, line in iter_lines([data]):
        parsed = _json_object(line, "files manifest line", source, number)
        count = parsed.get("itemCount")
        if not _is_count(count):
            raise DataError(
                f"itemCount must be a whole number, got {count!r:.40}", source=source, line=number
            )
        texts: list[str] = []
        for key in ("md5Checksum", "etag", "dataFileS3Key"):
            value = parsed.get(key)
            if not isinstance(value, str) or not value:
                raise DataError(f"files manifest line has no {key}", source=source, line=number)
            texts.append(value)
        entries.append(ManifestFileEntry(count, *texts))
    return tuple(entries)


def md5_text(data: bytes) -> str:
    """The base64 MD5 digest of ``data``: the content of a ``.md5`` file and of
    ``md5Checksum``."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def verify_md5(data: bytes, md5_file: bytes, *, source: str) -> None:
    """Raise ``DataError`` naming ``source`` unless ``md5_file`` (the bytes of a ``.md5``
    or ``.checksum`` file) holds the MD5 of ``data``.

    The file's base64 digest is compared; surrounding whitespace and a hex digest are
    tolerated.
    """
    text = md5_file.strip()
    try:
        if len(text) == 32:
            expected = bytes.fromhex(text.decode("ascii"))
        else:
            expected = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        expected = b""
    if len(expected) != 16:
        raise DataError(f"checksum file does not hold an MD5 digest: {text[:40]!r}", source=source)
    actual = hashlib.md5(data).digest()
    if actual != expected:
        raise DataError(
            f"MD5 mismatch: checksum file says {base64.b64encode(expected).decode()}, "
            f"content has {base64.b64encode(actual).decode()}",
            source=source,
        )
