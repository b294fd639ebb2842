"""DynamoDB's native export format, DYNAMODB_JSON: data lines, manifests, checksums."""

from ddbpipe.formats.ddbjson.lines import (
    ChangeRecord,
    decode_change,
    decode_line,
    encode_change,
    encode_item,
)
from ddbpipe.formats.ddbjson.manifests import (
    FULL_EXPORT_VERSION,
    INCREMENTAL_EXPORT_VERSION,
    MANIFEST_FILES_NAME,
    MANIFEST_SUMMARY_NAME,
    ManifestFileEntry,
    ManifestSummary,
    decode_manifest_files,
    decode_manifest_summary,
    encode_manifest_files,
    encode_manifest_summary,
    md5_text,
    verify_md5,
)

__all__ = [
    "FULL_EXPORT_VERSION",
    "INCREMENTAL_EXPORT_VERSION",
    "MANIFEST_FILES_NAME",
    "MANIFEST_SUMMARY_NAME",
    "ChangeRecord",
    "ManifestFileEntry",
    "ManifestSummary",
    "decode_change",
    "decode_line",
    "decode_manifest_files",
    "decode_manifest_summary",
    "encode_change",
    "encode_item",
    "encode_manifest_files",
    "encode_manifest_summary",
    "md5_text",
    "verify_md5",
]
