"""Write DynamoDB native exports for tests, as the service lays them out: full exports in
DYNAMODB_JSON or ION, and incremental exports built from a table's changes."""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ddbpipe.formats import ddbjson, ion
from ddbpipe.formats.ddbjson import (
    ChangeRecord,
    ManifestFileEntry,
    ManifestSummary,
    encode_manifest_files,
    encode_manifest_summary,
    md5_text,
)
from tests.support.compare import canonical, canonical_value

EXPORT_ID = "01668227450456-b6733290"
EXPORT_TIME = "2022-11-12T04:30:50.456Z"

_ENCODERS: dict[tuple[str, bool], Callable[[Any], bytes]] = {
    ("DYNAMODB_JSON", False): ddbjson.encode_item,
    ("DYNAMODB_JSON", True): ddbjson.encode_change,
    ("ION", False): ion.encode_item,
    ("ION", True): ion.encode_change,
}


TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t"


def write_native_export(
    prefix: Path,
    files: Sequence[Sequence[Any]],
    export_id: str = EXPORT_ID,
    claimed_counts: list[int] | None = None,
    *,
    output_format: str = "DYNAMODB_JSON",
    window: tuple[str, str] | None = None,
    table_arn: str = TABLE_ARN,
) -> Path:
    """``prefix/AWSDynamoDB/<export_id>/`` holding one gzipped data file per list.

    The lists hold items, or ``ChangeRecord``s when ``window`` (from, to) makes this an
    incremental export. ``claimed_counts`` puts other counts in the manifests than the
    files hold; ``table_arn`` names the exported table.
    """
    counts = claimed_counts or [len(records) for records in files]
    encode = _ENCODERS[(output_format, window is not None)]
    suffix = "ion" if output_format == "ION" else "json"
    folder = prefix / "AWSDynamoDB" / export_id
    (folder / "data").mkdir(parents=True)
    (folder / "_started").write_bytes(b"")
    entries = []
    for n, records in enumerate(files):
        name = f"file{n:02d}aaaaaaaaaaaaaaaaaaaaa.{suffix}.gz"
        data = gzip.compress(b"".join(encode(record) for record in records), mtime=0)
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
            version="2023-08-01" if window else "2020-06-30",
            export_arn=f"{table_arn}/export/{export_id}",
            start_time=window[1] if window else EXPORT_TIME,
            end_time=window[1] if window else "2022-11-12T04:35:12.000Z",
            table_arn=table_arn,
            table_id="00000000-0000-0000-0000-000000000000",
            s3_bucket="example-bucket",
            manifest_files_s3_key=f"AWSDynamoDB/{export_id}/manifest-files.json",
            billed_size_bytes=0,
            item_count=sum(counts),
            output_format=output_format,
            export_time=None if window else EXPORT_TIME,
            export_from_time=window[0] if window else None,
            export_to_time=window[1] if window else None,
            output_view="NEW_AND_OLD_IMAGES" if window else None,
            export_type="INCREMENTAL_EXPORT" if window else None,
        )
    )
    (folder / "manifest-files.json").write_bytes(manifest_files)
    (folder / "manifest-files.md5").write_bytes(md5_text(manifest_files).encode())
    (folder / "manifest-summary.json").write_bytes(summary)
    (folder / "manifest-summary.md5").write_bytes(md5_text(summary).encode())
    return folder


def changes_between(
    before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]], key_names: Sequence[str]
) -> list[ChangeRecord]:
    """The compacted changes that take a table from ``before`` to ``after``, as an
    incremental export with NEW_AND_OLD_IMAGES holds them (unchanged items give none)."""

    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(repr(canonical_value(item[name])) for name in key_names)

    old = {key(item): item for item in before}
    new = {key(item): item for item in after}
    records = []
    for identity in sorted(set(old) | set(new)):
        was, now = old.get(identity), new.get(identity)
        if was is not None and now is not None and canonical(was) == canonical(now):
            continue
        source = now if now is not None else was
        assert source is not None
        records.append(
            ChangeRecord(
                keys={name: source[name] for name in key_names},
                new_image=now,
                old_image=was,
                write_timestamp_micros=1_700_000_000_000_000 + len(records),
            )
        )
    return records
