"""The ``manifest`` of a Data Pipeline backup folder (format version 3).

The writer gives exactly the bytes of emr-dynamodb-tools 4.11's
``ExportManifestRecordWriter``; the reader follows its importer: only ``version``
(which must be 3) and each entry's ``url`` matter, other keys are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ddbpipe.errors import DataError

__all__ = ["MANIFEST_NAME", "MANIFEST_VERSION", "Manifest", "decode_manifest", "encode_manifest"]

MANIFEST_NAME = "manifest"
MANIFEST_VERSION = 3
_HEAD = b'{"name":"DynamoDB-export","version":3,\n"entries": [\n'
_TAIL = b"\n]}"


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: its version and the data file URLs it lists, in order."""

    version: int
    urls: tuple[str, ...]


def encode_manifest(urls: Sequence[str]) -> bytes:
    """The manifest bytes listing ``urls`` (absolute data file URLs), in the given order."""
    entries = b",\n".join(b'{"url":' + orjson.dumps(url) + b',"mandatory":true}' for url in urls)
    return _HEAD + entries + _TAIL


def decode_manifest(data: bytes, *, source: str = MANIFEST_NAME) -> Manifest:
    """Parse a manifest; raise ``DataError`` naming ``source`` if it cannot be used."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"manifest is not valid JSON ({exc})", source=source) from None
    if not isinstance(parsed, dict):
        raise DataError("manifest must be a JSON object", source=source)
    version = parsed.get("version")
    if version is None:
        raise DataError("manifest has no version", source=source)
    if version != MANIFEST_VERSION or isinstance(version, bool):
        raise DataError(
            f"manifest version {version!r} is not supported; only version 3 is known",
            source=source,
        )
    entries = parsed.get("entries")
    if not isinstance(entries, list):
        raise DataError("manifest has no list of entries", source=source)
    urls: list[str] = []
    for position, entry in enumerate(entries, start=1):
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url:
            raise DataError(f"manifest entry {position} has no url", source=source)
        urls.append(url)
    return Manifest(version=MANIFEST_VERSION, urls=tuple(urls))
