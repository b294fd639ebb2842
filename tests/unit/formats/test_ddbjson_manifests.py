"""Native export manifests and .md5 files: real samples re-encode byte for byte."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbpipe.errors import DataError
from ddbpipe.formats.ddbjson import (
    ManifestFileEntry,
    ManifestSummary,
    decode_manifest_files,
    decode_manifest_summary,
    encode_manifest_files,
    encode_manifest_summary,
    md5_text,
    verify_md5,
)

NATIVE = Path(__file__).resolve().parents[2] / "data" / "native"
SABUAT = NATIVE / "sabuat-db-dynamo-aws"
AIRLINE = NATIVE / "transcribed" / "airline-2023-08-31"
RAIDO = NATIVE / "transcribed" / "raido-ion-2022-07-18"


def _compact_line(pretty: bytes) -> bytes:
    """The raido manifests were pretty-printed by the repository author; the service
    writes each as one compact line, which is what the decoders read."""
    return orjson.dumps(orjson.loads(pretty)) + b"\n"


@pytest.mark.parametrize("name", ["manifest-summary", "manifest-files"])
def test_real_md5_files_verify_and_reencode(name: str) -> None:
    data = (SABUAT / f"{name}.json").read_bytes()
    md5_file = (SABUAT / f"{name}.md5").read_bytes()
    verify_md5(data, md5_file, source=f"{name}.md5")
    assert md5_text(data).encode() == md5_file


def test_real_summary_reencodes_byte_for_byte() -> None:
    data = (SABUAT / "manifest-summary.json").read_bytes()
    summary = decode_manifest_summary(data)
    assert summary.export_arn.endswith("/export/01668227450456-b6733290")
    assert summary.start_time == summary.export_time == "2022-11-12T04:30:50.456Z"
    assert summary.s3_prefix is None
    assert summary.s3_sse_kms_key_id is None
    assert summary.item_count == 6
    assert summary.export_type is None
    assert encode_manifest_summary(summary) == data


def test_real_files_manifest_reencodes_byte_for_byte() -> None:
    data = (SABUAT / "manifest-files.json").read_bytes()
    entries = decode_manifest_files(data)
    assert entries == (
        ManifestFileEntry(
            item_count=6,
            md5_checksum="EV+2HwdmZ3AyD9j+Yxd+Mg==",
            etag="a88f6b426e940985d4ef97076c8f40f6-1",
            data_file_s3_key=(
                "AWSDynamoDB/01668227450456-b6733290/data/enpvklgbwq7gta42yshirxd6ea.json.gz"
            ),
        ),
    )
    assert encode_manifest_files(entries) == data
    summary = decode_manifest_summary((SABUAT / "manifest-summary.json").read_bytes())
    assert sum(e.item_count for e in entries) == summary.item_count


def test_transcribed_airline_manifests() -> None:
    summary_bytes = (AIRLINE / "manifest-summary.json").read_bytes()
    files_bytes = (AIRLINE / "manifest-files.json").read_bytes()
    summary = decode_manifest_summary(summary_bytes, source="airline summary")
    entries = decode_manifest_files(files_bytes, source="airline files")
    assert summary.s3_prefix == "public-s3-files/Output_Airline.csv"
    assert len(entries) == 7
    assert sum(e.item_count for e in entries) == summary.item_count == 59871
    assert all(e.data_file_s3_key.startswith(summary.s3_prefix + "/AWSDynamoDB/") for e in entries)
    # The transcriber added the summary's trailing newline; the content is exact.
    assert encode_manifest_summary(summary) == summary_bytes.rstrip(b"\n")
    assert encode_manifest_files(entries) == files_bytes
    for entry in entries:  # every etag is the single-part multipart ETag of the object
        digest = base64.b64decode(entry.md5_checksum)
        assert entry.etag == hashlib.md5(digest).hexdigest() + "-1"


def test_transcribed_ion_manifests() -> None:
    summary = decode_manifest_summary((RAIDO / "manifest-summary.pretty.json").read_bytes())
    entries = decode_manifest_files(
        _compact_line((RAIDO / "manifest-files.pretty.json").read_bytes())
    )
    assert summary.output_format == "ION"
    assert summary.export_time == "2022-07-17T14:00:00.000Z"
    assert summary.billed_size_bytes == 3932918
    assert [e.item_count for e in entries] == [summary.item_count]
    assert entries[0].data_file_s3_key.endswith(".ion.gz")


# The spec's synthetic full export (§4): its checksums were computed independently.
SPEC_SUMMARY = ManifestSummary(
    version="2020-06-30",
    export_arn="arn:aws:dynamodb:us-east-1:111122223333:table/Music/export/01717200000123-1a2b3c4d",
    start_time="2024-06-01T00:00:00.123Z",
    end_time="2024-06-01T00:06:41.907Z",
    table_arn="arn:aws:dynamodb:us-east-1:111122223333:table/Music",
    table_id="6f1c2a9e-3b7d-4e55-9a0c-1d2e3f4a5b6c",
    export_time="2024-06-01T00:00:00.123Z",
    s3_bucket="my-export-bucket",
    s3_prefix="exports/2024-06-01",
    s3_sse_algorithm="AES256",
    manifest_files_s3_key=(
        "exports/2024-06-01/AWSDynamoDB/01717200000123-1a2b3c4d/manifest-files.json"
    ),
    billed_size_bytes=0,
    item_count=2,
    output_format="DYNAMODB_JSON",
)
_SPEC_DATA = "exports/2024-06-01/AWSDynamoDB/01717200000123-1a2b3c4d/data/"
SPEC_FILES = (
    ManifestFileEntry(
        2,
        "bbJ1unOZbd1xf+xuNavmtA==",
        "f7d5146f025f873f50fb0567f9475d87-1",
        _SPEC_DATA + "k7qv3xw2mzl5b4hrdyc6pnjt2e.json.gz",
    ),
    ManifestFileEntry(
        0,
        "Sk3TWYcHYDs/dqI3ikUEqg==",
        "a6b2cbb1ed8396717de354038c5cd5ff-1",
        _SPEC_DATA + "a3nu7fzr2kqo6wbxhy5tvgcl4q.json.gz",
    ),
)


def test_spec_example_manifests_match_its_checksums() -> None:
    assert md5_text(encode_manifest_summary(SPEC_SUMMARY)) == "T5WTwZNVN8B0FvqyjJJTAg=="
    assert md5_text(encode_manifest_files(SPEC_FILES)) == "uGDZSbL/xaWq3IPci4lkDQ=="
    empty_gzip = bytes.fromhex("1f8b080000000000020303000000000000000000")
    assert md5_text(empty_gzip) == SPEC_FILES[1].md5_checksum


def test_incremental_summary_key_order_and_round_trip() -> None:
    summary = replace(
        SPEC_SUMMARY,
        version="2023-08-01",
        export_time=None,
        export_from_time="2024-06-01T00:00:00.000Z",
        export_to_time="2024-06-01T01:00:00.000Z",
        output_view="NEW_AND_OLD_IMAGES",
        export_type="INCREMENTAL_EXPORT",
        item_count=3,
    )
    data = encode_manifest_summary(summary)
    assert list(orjson.loads(data)) == [
        "version", "exportArn", "startTime", "endTime", "tableArn", "tableId",
        "exportFromTime", "exportToTime", "s3Bucket", "s3Prefix", "s3SseAlgorithm",
        "s3SseKmsKeyId", "manifestFilesS3Key", "billedSizeBytes", "itemCount",
        "outputFormat", "outputView", "exportType",
    ]  # fmt: skip
    assert not data.endswith(b"\n")
    assert decode_manifest_summary(data) == summary


def test_empty_files_manifest() -> None:
    assert encode_manifest_files([]) == b""
    assert decode_manifest_files(b"") == ()


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("exportArn"), "no exportArn"),
        (lambda d: d.update(version="2019-01-01"), "version '2019-01-01' is not known"),
        (lambda d: d.update(itemCount="6"), "itemCount must be a whole number"),
        (lambda d: d.update(itemCount=True), "itemCount must be a whole number"),
        (lambda d: d.update(billedSizeBytes=-1), "billedSizeBytes must be a whole number"),
        (lambda d: d.update(s3Bucket=5), "s3Bucket must be a string"),
    ],
)
def test_bad_summaries_are_named(mutate: object, reason: str) -> None:
    parsed = orjson.loads((SABUAT / "manifest-summary.json").read_bytes())
    mutate(parsed)  # type: ignore[operator]
    with pytest.raises(DataError, match=reason) as caught:
        decode_manifest_summary(orjson.dumps(parsed), source="s3://b/x/manifest-summary.json")
    assert caught.value.source == "s3://b/x/manifest-summary.json"


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b'{"version":', "not valid JSON"), (b"[1]", "must be a JSON object")],
)
def test_unparsable_summaries_are_named(data: bytes, reason: str) -> None:
    with pytest.raises(DataError, match=reason) as caught:
        decode_manifest_summary(data, source="summary")
    assert caught.value.source == "summary"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"itemCount":1,"md5Checksum":"x","dataFileS3Key":"k"}', "no etag"),
        (b'{"md5Checksum":"x","etag":"e","dataFileS3Key":"k"}', "itemCount must be"),
        (b'{"itemCount":1,"md5Checksum":"x","etag":"e"', "not valid JSON"),
        (b'"text"', "must be a JSON object"),
    ],
)
def test_bad_files_manifest_lines_are_named(line: bytes, reason: str) -> None:
    data = (SABUAT / "manifest-files.json").read_bytes() + line + b"\n"
    with pytest.raises(DataError, match=reason) as caught:
        decode_manifest_files(data, source="manifest-files.json")
    assert (caught.value.source, caught.value.line) == ("manifest-files.json", 2)
    assert "manifest-files.json, line 2" in str(caught.value)


@given(st.data())
def test_one_corrupt_byte_fails_verification(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["manifest-summary", "manifest-files"]))
    original = (SABUAT / f"{name}.json").read_bytes()
    position = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    corrupt = bytearray(original)
    corrupt[position] ^= flip
    source = f"s3://outroslivros/AWSDynamoDB/01668227450456-b6733290/{name}.json"
    with pytest.raises(DataError, match="MD5 mismatch") as caught:
        verify_md5(bytes(corrupt), (SABUAT / f"{name}.md5").read_bytes(), source=source)
    assert caught.value.source == source
    assert str(caught.value).startswith(source)


def test_md5_file_spellings() -> None:
    data = b"abc"
    verify_md5(data, md5_text(data).encode() + b"\n", source="f")
    verify_md5(data, hashlib.md5(data).hexdigest().encode(), source="f")
    for bad in (b"", b"not a digest", base64.b64encode(b"short")):
        with pytest.raises(DataError, match="does not hold an MD5 digest") as caught:
            verify_md5(data, bad, source="f.md5")
        assert caught.value.source == "f.md5"
