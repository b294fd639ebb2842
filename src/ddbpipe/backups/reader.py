"""Reading one data file of a backup, whatever its format: records, checks, decoding.

A file's bytes come decompressed when the file is (gzip for native exports, gzip or
zstd for plain import sources), and a file that carries an MD5 and an item count (as a
native export's manifest gives) is checked against them as it is read: a mismatch
raises ``DataError`` naming the file once its last record has been read.

Records are lines, except in CSV, where a quoted field may hold line breaks; a CSV
file's first row is its header unless the header is given.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ddbpipe.errors import ConfigError, DataError
from ddbpipe.formats import datapipeline, ddbjson, ion
from ddbpipe.formats.csv import CsvOptions, CsvRowDecoder, iter_records
from ddbpipe.formats.ddbjson import ChangeRecord
from ddbpipe.formats.detect import FORMAT_CSV, FORMAT_DATAPIPELINE, FORMAT_DYNAMODB_JSON, FORMAT_ION
from ddbpipe.formats.lines import LineStats, iter_lines
from ddbpipe.items import Item
from ddbpipe.stores import Store

__all__ = ["BackupFile", "FileReader", "RecordFormat"]

_Decoder = Callable[..., Any]


@dataclass(frozen=True)
class BackupFile:
    """One data file of a backup, with what its manifest says of it when it says more."""

    key: str
    url: str
    size: int
    compression: str | None = None
    md5: str | None = None
    item_count: int | None = None


@dataclass(frozen=True)
class RecordFormat:
    """How to read a backup's data files.

    ``changes`` marks an incremental export, whose records are changes rather than
    items. For CSV, ``typed`` gives the table's typed attributes (name, S/N/B) and
    ``key_names`` the key every row must have; every other column is a string.
    """

    name: str = FORMAT_DATAPIPELINE
    changes: bool = False
    csv: CsvOptions | None = None
    typed: tuple[tuple[str, str], ...] = ()
    key_names: tuple[str, ...] = ()


# Each takes a line and the keywords ``source`` and ``line_number``.
_ITEM_DECODERS: dict[str, _Decoder] = {
    FORMAT_DATAPIPELINE: datapipeline.decode_line,
    FORMAT_DYNAMODB_JSON: ddbjson.decode_line,
    FORMAT_ION: ion.decode_line,
}
_CHANGE_DECODERS: dict[str, _Decoder] = {
    FORMAT_DYNAMODB_JSON: ddbjson.decode_change,
    FORMAT_ION: ion.decode_change,
}


class FileReader:
    """The records of one data file, and how to decode them.

    Iterating yields ``(line number, record)`` for every data record (a CSV header is
    read, not yielded); ``item`` and ``change`` decode one record, raising
    ``DataError`` that names the file and line.
    """

    def __init__(
        self, store: Store, file: BackupFile, format: RecordFormat, stats: LineStats | None = None
    ) -> None:
        self.store = store
        self.file = file
        self.url = file.url
        self.format = format
        self.stats = stats if stats is not None else LineStats()
        self._csv: CsvRowDecoder | None = None
        self._decode: _Decoder | None = None
        if format.name == FORMAT_CSV:
            self._csv = CsvRowDecoder(
                format.csv or CsvOptions(),
                dict(format.typed),
                format.key_names,
                source=file.url,
            )
        elif format.changes:
            if format.name not in _CHANGE_DECODERS:
                raise ConfigError(f"{format.name} files cannot hold incremental changes")
            self._decode = _CHANGE_DECODERS[format.name]
        else:
            self._decode = _ITEM_DECODERS[format.name]

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        records = self._records(_checked_chunks(self.store, self.file))
        count = 0
        for number, record in records:
            count += 1
            yield number, record
        expected = self.file.item_count
        if expected is not None and count != expected:
            raise DataError(f"holds {count} items, the manifest says {expected}", source=self.url)

    def _records(self, chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
        if self._csv is None:
            yield from iter_lines(chunks, self.stats)
            return
        csv = self._csv
        delimiter = (self.format.csv or CsvOptions()).delimiter
        for number, record in iter_records(
            chunks, source=self.url, stats=self.stats, delimiter=delimiter
        ):
            if csv.needs_header:
                csv.read_header(record, number)
            else:
                yield number, record

    def item(self, record: bytes, number: int) -> Item:
        """The item one record holds."""
        if self._csv is not None:
            return self._csv.decode(record, number)
        if self.format.changes:
            raise ConfigError(f"{self.url} holds incremental changes, not items")
        assert self._decode is not None
        item: Item = self._decode(record, source=self.url, line_number=number)
        return item

    def change(self, record: bytes, number: int) -> ChangeRecord:
        """The change one record of an incremental export holds."""
        if not self.format.changes or self._decode is None:
            raise ConfigError(f"{self.url} holds items, not incremental changes")
        change: ChangeRecord = self._decode(record, source=self.url, line_number=number)
        return change

    def items(self) -> Iterator[tuple[int, Item]]:
        """Stream ``(line number, item)``."""
        for number, record in self:
            yield number, self.item(record, number)


def _checked_chunks(store: Store, file: BackupFile) -> Iterator[bytes]:
    """The file's bytes, decompressed, with its MD5 checked after the last chunk."""
    digest = hashlib.md5()
    chunks: Iterable[bytes] = store.iter_chunks(file.key)
    if file.md5 is not None:
        chunks = _hashed(chunks, digest)
    if file.compression == "gzip":
        chunks = _gunzipped(chunks, file.url)
    elif file.compression == "zstd":
        chunks = _unzstd(chunks, file.url)
    yield from chunks
    if file.md5 is not None:
        actual = base64.b64encode(digest.digest()).decode("ascii")
        if actual != file.md5:
            raise DataError(f"MD5 is {actual}, the manifest says {file.md5}", source=file.url)


def _hashed(chunks: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _gunzipped(chunks: Iterable[bytes], source: str) -> Iterator[bytes]:
    return _decompressed(chunks, source, "gzip", lambda: zlib.decompressobj(wbits=31), zlib.error)


def _unzstd(chunks: Iterable[bytes], source: str) -> Iterator[bytes]:
    import zstandard  # only plain import sources use zstd

    def start() -> Any:
        return zstandard.ZstdDecompressor().decompressobj()

    return _decompressed(chunks, source, "zstd", start, zstandard.ZstdError)


def _decompressed(
    chunks: Iterable[bytes],
    source: str,
    name: str,
    start: Callable[[], Any],
    error: type[Exception],
) -> Iterator[bytes]:
    """Decompress a stream of one or more concatenated members (gzip) or frames (zstd);
    ``start`` makes a decompressor for the next one."""
    decompressor = start()
    try:
        for chunk in chunks:
            while chunk:
                yield decompressor.decompress(chunk)
                chunk = decompressor.unused_data
                if chunk:  # another member follows
                    decompressor = start()
        yield decompressor.flush()
    except error as exc:
        raise DataError(f"not a valid {name} file ({exc})", source=source) from None
    if not decompressor.eof:
        raise DataError(f"{name} file is cut short", source=source)
