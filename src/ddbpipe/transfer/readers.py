"""Reading one data file of a backup, whatever its format: lines, checks, decoder.

A file's lines come decompressed when the file is (gzip for native exports), and a file
that carries an MD5 and an item count (as a native export's manifest gives) is checked
against them as it is read: a mismatch raises ``DataError`` naming the file once its
last line has been read.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ddbpipe.errors import DataError
from ddbpipe.formats import datapipeline, ddbjson
from ddbpipe.formats.datapipeline import LineStats, iter_lines
from ddbpipe.items import Item
from ddbpipe.stores import Store

__all__ = [
    "FORMAT_DATAPIPELINE",
    "FORMAT_DYNAMODB_JSON",
    "BackupFile",
    "Decoder",
    "decoder_for",
    "file_lines",
]

FORMAT_DATAPIPELINE = "datapipeline"
FORMAT_DYNAMODB_JSON = "dynamodb-json"

Decoder = Callable[[bytes, str, int], Item]


@dataclass(frozen=True)
class BackupFile:
    """One data file of a backup, with what its manifest says of it when it says more."""

    key: str
    url: str
    size: int
    compression: str | None = None
    md5: str | None = None
    item_count: int | None = None


def _decode_datapipeline(line: bytes, source: str, number: int) -> Item:
    return datapipeline.decode_line(line, source=source, line_number=number)


def _decode_dynamodb_json(line: bytes, source: str, number: int) -> Item:
    return ddbjson.decode_line(line, source=source, line_number=number)


_DECODERS: dict[str, Decoder] = {
    FORMAT_DATAPIPELINE: _decode_datapipeline,
    FORMAT_DYNAMODB_JSON: _decode_dynamodb_json,
}


def decoder_for(format: str) -> Decoder:
    """The function that turns one line of ``format`` into an item."""
    return _DECODERS[format]


def _hashed(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _gunzipped(chunks: Iterable[bytes], source: str) -> Iterator[bytes]:
    inflater = zlib.decompressobj(wbits=31)
    try:
        for chunk in chunks:
            while chunk:
                yield inflater.decompress(chunk)
                chunk = inflater.unused_data
                if chunk:  # another gzip member follows
                    inflater = zlib.decompressobj(wbits=31)
        yield inflater.flush()
    except zlib.error as exc:
        raise DataError(f"not a valid gzip file ({exc})", source=source) from None
    if not inflater.eof:
        raise DataError("gzip file is cut short", source=source)


def file_lines(
    store: Store, file: BackupFile, stats: LineStats | None = None
) -> Iterator[tuple[int, bytes]]:
    """Stream ``(line number, line)`` of ``file``, decompressed, checked at the end."""
    stats = stats if stats is not None else LineStats()
    digest = hashlib.md5()
    md5, item_count, url = file.md5, file.item_count, file.url
    chunks: Iterable[bytes] = store.iter_chunks(file.key)
    if md5 is not None:
        chunks = _hashed(chunks, digest)
    if file.compression == "gzip":
        chunks = _gunzipped(chunks, url)
    count = 0
    for number, line in iter_lines(chunks, stats):
        count += 1
        yield number, line
    if md5 is not None:
        actual = base64.b64encode(digest.digest()).decode("ascii")
        if actual != md5:
            raise DataError(f"MD5 is {actual}, the manifest says {md5}", source=url)
    if item_count is not None and count != item_count:
        raise DataError(f"holds {count} items, the manifest says {item_count}", source=url)
