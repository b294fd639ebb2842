"""Write DynamoDB native exports (DYNAMODB_JSON) for tests, as the service lays them out."""

from __future__ import annotations

import base64
import gzip
import hashlib
from pathlib import Path
from typing import Any

from ddbpipe.formats.ddbjson import (
    ManifestFileEntry,
    ManifestSummary,
    encode_item,
    encode_manifest_files,
    encode_manifest_summary,
    md5_text,
)

EXPORT_ID = "01668227450456-b6733290"


def write_native_export(
    prefix: Path,
    files: list[list[dict[str, Any]]],
    export_id: str = EXPORT_ID,
    claimed_counts: list[int] | None = None,
) -> Path:
    """``prefix/AWSDynamoDB/<export_id>/`` holding one gzipped data file per list of items.

    ``claimed_counts`` puts other item counts in the manifests than the files hold.
    """
    counts = claimed_counts or [len(items) for items in files]
    folder = prefix / "AWSDynamoDB" / export_id
    (folder / "data").mkdir(parents=True)
    (folder / "_started").write_bytes(b"")
    entries = []
    for n, items in enumerate(files):
        name = f"file{n:02d}aaaaaaaaaaaaaaaaaaaaa.json.gz"
        data = gzip.compress(b"".join(encode_item(item) for item in items), mtime=0)
        (folder / "data" / name).write_bytes(data)
        digest = hashlib.md5(data).digest()
        entries.append(
            ManifestFileEntry(
                item_count=counts[n],
                md5_checksum=base64.b64encode(digest).decode(),
                etag=hashlib.md5(digest).hexdigest() + "-1",
                data_file_s3_key=f"AWSDynamoDB/{export_id}/data/{name}",
            )
        )
    manifest_files = encode_manifest_files(entries)
    summary = encode_manifest_summary(
        ManifestSummary(
            version="2020-06-30",
            export_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/t/export/{export_id}",
            start_time="2022-11-12T04:30:50.456Z",
            end_time="2022-11-12T04:35:12.000Z",
            table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/t",
            table_id="00000000-0000-0000-0000-000000000000",
            s3_bucket="example-bucket",
            manifest_files_s3_key=f"AWSDynamoDB/{export_id}/manifest-files.json",
            billed_size_bytes=0,
            item_count=sum(counts),
            output_format="DYNAMODB_JSON",
            export_time="2022-11-12T04:30:50.456Z",
        )
    )
    (folder / "manifest-files.json").write_bytes(manifest_files)
    (folder / "manifest-files.md5").write_bytes(md5_text(manifest_files).encode())
    (folder / "manifest-summary.json").write_bytes(summary)
    (folder / "manifest-summary.md5").write_bytes(md5_text(summary).encode())
    return folder
