"""Manifest v3: exact bytes out, the importer's rules in."""

from __future__ import annotations

import pytest

from ddbpipe.errors import DataError
from ddbpipe.formats.datapipeline import decode_manifest, encode_manifest, manifest_file_names
from tests.support.samples import V1_EMPTY, V1_EXPORT


@pytest.mark.parametrize("folder", [V1_EXPORT, V1_EMPTY], ids=["two-files", "empty-table"])
def test_sample_manifests_reencode_byte_for_byte(folder: object) -> None:
    data = (folder / "manifest").read_bytes()  # type: ignore[operator]
    manifest = decode_manifest(data)
    assert manifest.version == 3
    assert encode_manifest(manifest.urls) == data


def test_empty_manifest_form() -> None:
    assert encode_manifest([]) == b'{"name":"DynamoDB-export","version":3,\n"entries": [\n\n]}'
    assert decode_manifest(encode_manifest([])).urls == ()


def test_sample_manifest_lists_its_files() -> None:
    manifest = decode_manifest((V1_EXPORT / "manifest").read_bytes())
    assert manifest_file_names(manifest, source="m") == [
        "5d0b2e6c-1f0c-4e8a-9c1e-3b1c7d2f9a10",
        "c41e8f3a-7b22-4d0e-8a55-90d1e6f2b7c4",
    ]


def test_extra_keys_are_tolerated_and_mandatory_is_optional() -> None:
    data = b'{"version":3,"comment":"x","entries":[{"url":"s3://b/p/f1","size":3},{"url":"s3://b/p/f2"}]}'
    assert decode_manifest(data).urls == ("s3://b/p/f1", "s3://b/p/f2")


def test_urls_with_escapes_round_trip() -> None:
    urls = ['s3://bucket/a "quoted"/dir/file-1', "s3://bucket/ünï/file-2"]
    assert decode_manifest(encode_manifest(urls)).urls == tuple(urls)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b'{"name":"DynamoDB-export","version":2,\n"entries": [\n\n]}',
            "version 2 is not supported",
        ),
        (b'{"name":"DynamoDB-export","entries": []}', "no version"),
        (b'{"version":3}', "no list of entries"),
        (b'{"version":3,"entries":[{"mandatory":true}]}', "entry 1 has no url"),
        (b'{"version":3,"entries":[', "not valid JSON"),
        (b"[]", "must be a JSON object"),
    ],
)
def test_bad_manifests_are_named(data: bytes, reason: str) -> None:
    with pytest.raises(DataError, match=reason) as caught:
        decode_manifest(data, source="s3://b/run/manifest")
    assert caught.value.source == "s3://b/run/manifest"


def test_a_file_listed_twice_is_an_error() -> None:
    manifest = decode_manifest(encode_manifest(["s3://b/x/f", "s3://b/y/f"]))
    with pytest.raises(DataError, match="lists 'f' twice"):
        manifest_file_names(manifest, source="m")
